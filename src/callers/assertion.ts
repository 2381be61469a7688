import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import { discardBearer, issueBearer, type BearerStores, type BearerToken } from './bearer.js'
import type { AssertedCaller } from './caller.js'
import { bearerLifetimeSec } from './bearer-binding.js'
import { jweAlgOf, openJwe } from './jwe.js'
import { consumeJti, type GiveBackJti } from './jti.js'
import { verifySignedJwt, type VerifyOptions } from './jwt.js'
import type { GatewayKeys } from './keys.js'

/** Everything needed to check an assertion, JWT or JWE. */
export interface AssertionOptions extends VerifyOptions {
  apps: ReadonlyMap<string, CallerApp>
  keys: GatewayKeys
}

/** A verified assertion whose `jti` is not spent yet: `spend()` records it (or refuses a replay). */
interface CheckedAssertion {
  readonly caller: AssertedCaller
  spend(): Promise<GiveBackJti>
}

/** Every rule of a JWT (3 parts) or a JWE (5 parts, decrypted first) but the replay check. */
async function checkAssertion(assertion: string, opts: AssertionOptions): Promise<CheckedAssertion> {
  if (assertion === '') throw authError('missing', 'assertion is missing', { reason: 'caller_credentials_missing' })
  const parts = assertion.split('.').length
  if (parts !== 3 && parts !== 5) throw authError('malformed', 'assertion must be a compact JWT or JWE')
  const { caller, inner } = parts === 3 ? { caller: (await verifySignedJwt(assertion, opts.apps, opts, false)).caller, inner: assertion } : await openJwe(assertion, opts.keys, opts.apps, opts)
  return { caller, spend: () => consumeJti(caller, inner, opts) }
}

/** Verifies a JWT (3 parts) or decrypts-then-verifies a JWE (5 parts), and spends its `jti`. */
export async function verifyCallerAssertion(assertion: string, opts: AssertionOptions): Promise<AssertedCaller> {
  const { caller, spend } = await checkAssertion(assertion, opts)
  await spend()
  return caller
}

/**
 * `POST /gateway/token`: assertion → bearer. An anonymous user's bearer (its record, and its
 * sealed JWE claims) is anonymous user data: it lives no longer than `anonymousTtlSec` when
 * that is shorter than `ttlSec`. `beforeIssue` runs on the verified caller once its `jti` is
 * spent and before the bearer is handed out (identityToMerge: a replay never merges).
 *
 * The `jti` is spent after the bearer is written and before it is handed out: a bearer write
 * that fails (the store away) has spent nothing, so the caller's retry of the same assertion
 * works. When the spend is refused or `beforeIssue` throws, the written bearer is discarded
 * (handed to no one, it grants nothing) and a `jti` this exchange spent is given back. Two uses
 * at once still get one bearer: only one of them spends the `jti`.
 */
export async function exchangeAssertion(
  assertion: string,
  opts: AssertionOptions,
  stores: BearerStores,
  ttlSec: number,
  anonymousTtlSec: number = ttlSec,
  beforeIssue?: (caller: AssertedCaller) => Promise<void>,
): Promise<{ caller: AssertedCaller; token: BearerToken }> {
  const { caller, spend } = await checkAssertion(assertion, opts)
  const lifetime = bearerLifetimeSec(caller.isAnonymous, ttlSec, anonymousTtlSec)
  // What the bearer is judged by later (bearer-binding.ts): a setting changed since ends it where a fresh exchange would differ.
  const facts = Object.assign(caller.viaJwe ? { jweAlg: jweAlgOf(assertion) } : {}, { aliasPrefix: opts.claimAliasPrefix ?? '' })
  const token = await issueBearer(caller, stores, lifetime, opts.apps.get(caller.appId)?.keyId, facts)
  let giveBack: GiveBackJti | undefined
  try {
    giveBack = await spend()
    await beforeIssue?.(caller)
  } catch (e) {
    await Promise.all([giveBack?.(), discardBearer(token.access_token, stores)])
    throw e
  }
  return { caller, token }
}
