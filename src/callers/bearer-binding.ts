/**
 * Whether a stored bearer still stands under today's settings: it must behave as one issued now
 * from the same assertion would, or end. Judged on what the record holds and the settings in
 * force, never on their history, so a reload and a fresh start with the same file agree, and an
 * app changed back takes its bearers again.
 */
import type { GatewayError } from '../errors.js'
import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import { ALIASED_CLAIMS } from './claim-aliases.js'

/** What a bearer record keeps of its exchange besides the caller (each absent in earlier versions' records). */
export interface BearerFacts {
  /** The JWE key-management algorithm of its assertion; absent for a JWT assertion. */
  jweAlg?: 'RSA-OAEP' | 'RSA1_5'
  /** `callers.claimAliasPrefix` at the exchange. */
  aliasPrefix?: string
  /** When it was issued, milliseconds since the epoch. */
  issuedAt?: number
}

/**
 * An RSA1_5 assertion's bearer ends when its app no longer allows RSA1_5 (turned off because of
 * Bleichenbacher's attack, a bearer minted from one must not outlive the setting). A JWE bearer of an
 * earlier version does not say its algorithm and lives out its expiry: it was RSA1_5 only if its app
 * allowed RSA1_5 then (off by default), and ending every such bearer at each upgrade would sign out
 * the users of every JWE app to catch that one case (the README says to turn RSA1_5 off after the upgrade).
 */
export function rsa15Refusal(facts: BearerFacts, viaJwe: boolean, app: CallerApp): GatewayError | undefined {
  if (app.allowRsa15Jwe || !viaJwe || facts.jweAlg !== 'RSA1_5') return undefined
  return authError('app_rsa15_disallowed', `bearer token was issued for an RSA1_5 JWE assertion, and app "${app.clientId}" no longer allows RSA1_5 (allowRsa15Jwe): exchange a new assertion`)
}

/**
 * A bearer whose `jti`, `iss` or `sub` a fresh exchange of its assertion would read otherwise under
 * today's `claimAliasPrefix` ends: its user, app or template claims would differ. Alias keys stay in
 * the claims, so today's alias is there to compare; the claim's own value is not when the prefix at
 * the exchange replaced it, and then the bearer ends too (that value is unknown). Earlier versions'
 * records do not say their prefix: only today's aliases are checked for them.
 */
export function aliasRefusal(claims: Readonly<Record<string, unknown>>, was: string | undefined, now: string): GatewayError | undefined {
  if (was === now) return undefined
  const has = (key: string): boolean => Object.hasOwn(claims, key) && claims[key] !== undefined
  for (const claim of ALIASED_CLAIMS) {
    const differs = now !== '' && has(`${now}${claim}`) ? claims[`${now}${claim}`] !== claims[claim] : was !== undefined && was !== '' && has(`${was}${claim}`)
    if (differs) {
      return authError('claim_alias_prefix_changed', `bearer token's "${claim}" claim would be read otherwise under today's callers.claimAliasPrefix (it changed since the bearer was issued): exchange a new assertion`)
    }
  }
  return undefined
}

/** A bearer issued at `issuedAt` ends when one issued then under today's lifetime would have expired (bearerTtl or anonymousTtl shortened). */
export function lifetimeRefusal(facts: BearerFacts, lifetimeSec: number | undefined, nowMs: number): GatewayError | undefined {
  if (facts.issuedAt === undefined || lifetimeSec === undefined || facts.issuedAt + lifetimeSec * 1000 > nowMs) return undefined
  return authError('bearer_ttl_shortened', 'bearer token outlived callers.bearerTtl (or anonymousTtl), shortened since it was issued: exchange a new assertion')
}

/** How long a caller's bearer lives: `bearerTtl`, an anonymous user's at most `anonymousTtl` (at least 1 s). */
export function bearerLifetimeSec(isAnonymous: boolean, ttlSec: number, anonymousTtlSec: number): number {
  return isAnonymous ? Math.max(1, Math.min(ttlSec, Math.floor(anonymousTtlSec))) : ttlSec
}
