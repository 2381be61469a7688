/**
 * The `jti` replay cache: an assertion with a `jti` is accepted once. Its entries live in the
 * shared store, so every worker and replica refuses a second use.
 */
import { createHash } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { authError } from './auth-failure.js'
import type { AssertedCaller } from './caller.js'
import type { VerifyOptions } from './jwt.js'

/** PRODUCT.md's fixed text for a `jti` seen before. */
export const JWT_REPLAY = 'error verifying the jwt: possibly a replay'

/**
 * A seen `jti` is kept at least this long past its `exp`, whatever this process's clockSkew: a
 * replica (or this one after a reload) allowing more skew, or one whose clock lags, still accepts
 * the assertion after `exp + clockSkew` there, and must still find its `jti`. So it is the largest
 * `callers.clockSkew` the schema allows (1h; test/callers/jwt.test.ts holds the two together): at
 * 10 minutes, a reload to a skew of 30 minutes accepted a spent assertion again 10 minutes after its `exp`.
 */
export const JTI_RETENTION_FLOOR_SEC = 3600

/** Takes back what consumeJti recorded (best effort: a store that fails keeps the `jti` spent). */
export type GiveBackJti = () => Promise<void>

/**
 * Records the caller's `jti`, and the signed assertion `jws` it came from, until its `exp` plus the
 * larger of the skew and JTI_RETENTION_FLOOR_SEC; a second sighting of either is a replay. Which
 * claim is the `jti` depends on `callers.claimAliasPrefix` (`kore_jti` or `jti`), which a reload
 * may change: by its `jti` alone, an assertion spent under one prefix was new under the other.
 * Resolves with what gives both back, for an exchange that fails after it (no bearer handed out):
 * only entries this call wrote are deleted, never one another use may have written.
 */
export async function consumeJti(caller: AssertedCaller, jws: string, opts: VerifyOptions): Promise<GiveBackJti> {
  const written: string[] = []
  const store = opts.replay
  const giveBack = async (): Promise<void> => void (await Promise.all(written.map((k) => store?.delete(k).catch(() => undefined))))
  if (caller.jti === undefined) return giveBack
  // Code misuse, never skipped silently: without the cache a replay would be accepted.
  if (store === undefined) throw new GatewayError('internal', 'jti replay cache is not configured')
  const now = (opts.now ?? Date.now)()
  const ttlMs = Math.max(1000, (caller.exp + Math.max(opts.clockSkewSec, JTI_RETENTION_FLOOR_SEC)) * 1000 - now)
  // One after the other: two uses at once are told apart by the `jti` alone (one wins it), never both refused.
  for (const key of [jtiKey(caller.appId, caller.jti), assertionKey(caller.appId, jws)]) {
    // A write that fails may have landed, or not: what this call wrote before it is given back.
    const fresh = await store.putIfAbsent(key, '1', ttlMs).catch(async (e: unknown) => {
      await giveBack()
      throw e
    })
    if (!fresh) throw authError('replay', JWT_REPLAY, { reason: 'jwt_replay' })
    written.push(key)
  }
  return giveBack
}

/** The replay-cache key of a signed assertion itself (its one canonical compact form), by its SHA-256. */
function assertionKey(appId: string, jws: string): string {
  return `jti-assertion:${encodeURIComponent(appId)}:${createHash('sha256').update(jws).digest('base64url')}`
}

/**
 * The replay-cache key of an app's `jti`. The client id is URI-encoded, so it holds no ":" and
 * the first ":" after it ends it: app "a:x" with jti "y" and app "a" with jti "x:y" are two keys
 * (with the raw id they were one, and one app could spend another's jtis). A client id of
 * unreserved characters, the usual kind, keys as before.
 */
export function jtiKey(appId: string, jti: string): string {
  return `jti:${encodeURIComponent(appId)}:${jti}`
}

