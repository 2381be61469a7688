/**
 * An anonymous user's bearer is anonymous user data (README: kept in the store for
 * callers.anonymousTtl at most): once anonymousTtl is shortened, a bearer issued under the longer
 * one is refused past the new lifetime (bearer-binding.ts) and, here, its record and sealed claims
 * are removed then, or their store expiry brought forward to it, rather than kept until the end they
 * were written with. Only records sealed under store.sealKeys can be judged: one sealed under its
 * bearer's own key opens for its holder alone (it is refused all the same when presented).
 */
import { endRecords, type Sealer, type Store } from '../store/index.js'
import { bearerLifetimeSec } from './bearer-binding.js'
import { BEARER_PREFIX, CLAIMS_PREFIX } from './bearer-seal.js'

/** What the sweep reads of a bearer record. */
interface Judged {
  caller?: { isAnonymous?: unknown }
  issuedAt?: unknown
  expiresAt?: unknown
}

/** Removes the anonymous users' bearers (and claims) past `anonymousTtlMs` in force, and brings the others' expiry forward to their end; how many it removed. */
export async function endAnonymousBearers(store: Store, sealer: Sealer | undefined, anonymousTtlMs: number, now = Date.now()): Promise<number> {
  if (sealer === undefined) return 0
  // As resolveBearer judges it: whole seconds, at least one.
  const lifetimeMs = bearerLifetimeSec(true, Infinity, anonymousTtlMs / 1000) * 1000
  const endOf = (key: string, text: string): { end: number; written: number } | undefined => {
    let record: Judged
    try {
      record = JSON.parse(sealer.open(text, key)) as Judged
    } catch {
      return undefined
    }
    const { issuedAt, expiresAt } = record
    // An earlier version's record does not say when it was issued: its expiry bounds it.
    if (record.caller?.isAnonymous !== true || typeof issuedAt !== 'number' || typeof expiresAt !== 'number') return undefined
    return { end: Math.min(expiresAt, issuedAt + lifetimeMs), written: expiresAt }
  }
  return endRecords(store, BEARER_PREFIX, endOf, now, (key) => [`${CLAIMS_PREFIX}${key.slice(BEARER_PREFIX.length)}`])
}
