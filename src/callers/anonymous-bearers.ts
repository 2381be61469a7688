/**
 * An anonymous user's bearer is anonymous user data (README: kept in the store for
 * callers.anonymousTtl at most): once anonymousTtl is shortened, a bearer issued under the longer
 * one is refused past the new lifetime (bearer-binding.ts) and, here, its record and sealed claims
 * are removed then, or their store expiry brought forward to it, rather than kept until the end they
 * were written with. A record sealed under store.sealKeys is judged by what it holds. One sealed
 * under its bearer's own key (no sealKeys) opens for its holder alone: such a bearer is written with
 * a clear record of its life beside it (`bearer-anonymous:<id>`: when it was issued, its end), which
 * the sweep judges instead, ending the bearer and its claims with it.
 */
import { endRecords, type RecordEnd, type Sealer, type Store } from '../store/index.js'
import { bearerLifetimeSec } from './bearer-binding.js'
import { BEARER_PREFIX, CLAIMS_PREFIX } from './bearer-seal.js'

/** The clear record of an anonymous user's bearer's life, written when its record is sealed under the bearer's own key. */
export const ANONYMOUS_LIFE_PREFIX = 'bearer-anonymous:'

/** What the sweep reads of a bearer record (or of its life record, which says only when). */
interface Judged {
  caller?: { isAnonymous?: unknown }
  issuedAt?: unknown
  expiresAt?: unknown
}

/** The life record of bearer `id` (its record's digest), issued at `issuedAt` until `expiresAt`, for the same `ttlMs`. */
export async function recordAnonymousLife(store: Store, id: string, issuedAt: number, expiresAt: number, ttlMs: number): Promise<void> {
  await store.put(`${ANONYMOUS_LIFE_PREFIX}${id}`, JSON.stringify({ issuedAt, expiresAt }), ttlMs)
}

/** Removes the anonymous users' bearers (and claims) past `anonymousTtlMs` in force, and brings the others' expiry forward to their end; how many it removed. */
export async function endAnonymousBearers(store: Store, sealer: Sealer | undefined, anonymousTtlMs: number, now = Date.now()): Promise<number> {
  // As resolveBearer judges it: whole seconds, at least one.
  const lifetimeMs = bearerLifetimeSec(true, Infinity, anonymousTtlMs / 1000) * 1000
  const endOf = ({ issuedAt, expiresAt }: Judged): RecordEnd | undefined =>
    // An earlier version's record does not say when it was issued: its expiry bounds it.
    typeof issuedAt === 'number' && typeof expiresAt === 'number' ? { end: Math.min(expiresAt, issuedAt + lifetimeMs), written: expiresAt } : undefined
  const ofId = (prefix: string) => (key: string): string[] => [BEARER_PREFIX, CLAIMS_PREFIX].filter((p) => p !== prefix).map((p) => `${p}${key.slice(prefix.length)}`)
  const sealed = sealer === undefined ? 0 : await endRecords(store, BEARER_PREFIX, (key, text) => {
    const record = parsed(() => sealer.open(text, key))
    return record?.caller?.isAnonymous === true ? endOf(record) : undefined
  }, now, ofId(BEARER_PREFIX))
  return sealed + (await endRecords(store, ANONYMOUS_LIFE_PREFIX, (_key, text) => endOf(parsed(() => text) ?? {}), now, ofId(ANONYMOUS_LIFE_PREFIX)))
}

/** The JSON object `text()` holds; undefined when it throws (a seal that does not open) or is not one. */
function parsed(text: () => string): Judged | undefined {
  try {
    const value: unknown = JSON.parse(text())
    return value !== null && typeof value === 'object' ? (value as Judged) : undefined
  } catch {
    return undefined
  }
}
