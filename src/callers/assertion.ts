import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import { issueBearer, type BearerStores, type BearerToken } from './bearer.js'
import type { AssertedCaller } from './caller.js'
import { bearerLifetimeSec } from './bearer-binding.js'
import { decryptAssertion, jweAlgOf } from './jwe.js'
import { verifyAssertion, type VerifyOptions } from './jwt.js'
import type { GatewayKeys } from './keys.js'

/** Everything needed to check an assertion, JWT or JWE. */
export interface AssertionOptions extends VerifyOptions {
  apps: ReadonlyMap<string, CallerApp>
  keys: GatewayKeys
}

/** Verifies a JWT (3 parts) or decrypts-then-verifies a JWE (5 parts). */
export async function verifyCallerAssertion(assertion: string, opts: AssertionOptions): Promise<AssertedCaller> {
  if (assertion === '') throw authError('missing', 'assertion is missing', { reason: 'caller_credentials_missing' })
  const parts = assertion.split('.').length
  if (parts === 3) return verifyAssertion(assertion, opts.apps, opts)
  if (parts === 5) return decryptAssertion(assertion, opts.keys, opts.apps, opts)
  throw authError('malformed', 'assertion must be a compact JWT or JWE')
}

/**
 * `POST /gateway/token`: assertion → bearer. An anonymous user's bearer (its record, and its
 * sealed JWE claims) is anonymous user data: it lives no longer than `anonymousTtlSec` when
 * that is shorter than `ttlSec`. `beforeIssue` runs on the verified caller before the bearer
 * exists (identityToMerge): when it throws, no bearer is issued.
 */
export async function exchangeAssertion(
  assertion: string,
  opts: AssertionOptions,
  stores: BearerStores,
  ttlSec: number,
  anonymousTtlSec: number = ttlSec,
  beforeIssue?: (caller: AssertedCaller) => Promise<void>,
): Promise<{ caller: AssertedCaller; token: BearerToken }> {
  const caller = await verifyCallerAssertion(assertion, opts)
  await beforeIssue?.(caller)
  const lifetime = bearerLifetimeSec(caller.isAnonymous, ttlSec, anonymousTtlSec)
  // What the bearer is judged by later (bearer-binding.ts): a setting changed since ends it where a fresh exchange would differ.
  const facts = Object.assign(caller.viaJwe ? { jweAlg: jweAlgOf(assertion) } : {}, { aliasPrefix: opts.claimAliasPrefix ?? '' })
  return { caller, token: await issueBearer(caller, stores, lifetime, opts.apps.get(caller.appId)?.keyId, facts) }
}
