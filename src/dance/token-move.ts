/**
 * Moving a stored token to another key (identityToMerge, the Latin-1 migration) and revoking
 * one, so that a revoke never loses to a move in flight. A move writes the new key only where
 * none is (putIfAbsent), then deletes the old one: a crash in between leaves a copy, never a loss.
 * A revoke that lands between a move's read and its write deletes the old key while the move still
 * writes its copy: the revoked token would live on under the new key. So a revoke marks each key it
 * removes with the digest of the record it found there (for REVOKE_MARK_TTL_MS) before deleting
 * it, and a move that wrote a copy looks, after deleting the old key, for a mark of the very record
 * it moved: found, it removes its copy too. A token stored under the key later is another record,
 * so an earlier revoke never takes it.
 */
import { createHash } from 'node:crypto'
import { openRecord, putRecordIfAbsent, unlessSealError, type Sealer, type SecretFields, type Store } from '../store/index.js'

/** How long a revoke's mark stays: far longer than one move's few store round trips. */
export const REVOKE_MARK_TTL_MS = 5 * 60_000

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url')
const markKey = (key: string): string => `oauth1:revoked:${digest(key)}`

/** Deletes `keys`, each marked with its record's digest first; true when one held something. */
export async function revokeKeys(store: Store, keys: readonly string[]): Promise<boolean> {
  const removed = await Promise.all(
    keys.map(async (k) => {
      const raw = await store.get(k)
      if (raw !== undefined) await store.put(markKey(k), digest(raw), REVOKE_MARK_TTL_MS)
      return store.delete(k)
    }),
  )
  return removed.includes(true)
}

/** What a move writes of the record it read, and for how long (undefined: no expiry); undefined when the record has ended (it is removed, and nothing moves). */
export type MoveOf<T> = (record: T) => { copy: T; ttlMs?: number } | undefined

/**
 * Moves the record under `from` to `to` where none is there, then deletes `from`. Undefined when
 * `from` holds nothing (or a record `moveOf` says has ended); else true when the record is now
 * under `to`, false when `to` held one already (which stays) or a revoke of `from` ran meanwhile
 * (nothing stays).
 */
export async function moveRecord<T extends object>(o: { store: Store; sealer: Sealer }, from: string, to: string, secrets: SecretFields<T>, moveOf: MoveOf<T> = (record) => ({ copy: record })): Promise<boolean | undefined> {
  const raw = await o.store.get(from)
  if (raw === undefined) return undefined
  const record = unlessSealError(() => openRecord<T>(o.sealer, from, raw, secrets))
  // Sealed under a key no longer configured (README: as good as expired, never a 500): dropped, as
  // if it had expired, and nothing moves. Before, the move threw, and a merge failed with a 500
  // after its assertion's jti was spent.
  if (record === undefined) return void (await o.store.delete(from))
  const moving = moveOf(record)
  // Ended (an anonymous user's, past anonymousTtl): as if expired; removed unless written again meanwhile.
  if (moving === undefined) return void (await o.store.replaceIfUnchanged(from, raw, undefined))
  const { copy, ttlMs } = moving
  let wrote = await putRecordIfAbsent(o.store, o.sealer, to, copy, secrets, ttlMs)
  // Likewise a record under `to` that no key opens any more: this one takes its place, where
  // before it stayed and the readable one was deleted (the user left with neither).
  if (!wrote && (await isUnsealable(o, to, secrets))) {
    await o.store.delete(to)
    wrote = await putRecordIfAbsent(o.store, o.sealer, to, copy, secrets, ttlMs)
  }
  await o.store.delete(from)
  if (!wrote || (await o.store.get(markKey(from))) !== digest(raw)) return wrote
  await o.store.delete(to)
  return false
}

/** True when `key` holds a record whose seal does not open (absent: false). */
async function isUnsealable<T extends object>(o: { store: Store; sealer: Sealer }, key: string, secrets: SecretFields<T>): Promise<boolean> {
  const raw = await o.store.get(key)
  return raw !== undefined && unlessSealError(() => openRecord<T>(o.sealer, key, raw, secrets)) === undefined
}
