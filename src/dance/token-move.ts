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
import { openRecord, putRecordIfAbsent, type Sealer, type SecretFields, type Store } from '../store/index.js'

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

/**
 * Moves the record under `from` to `to` where none is there, then deletes `from`. Undefined when
 * `from` holds nothing; else true when the record is now under `to`, false when `to` held one
 * already (which stays) or a revoke of `from` ran meanwhile (nothing stays).
 */
export async function moveRecord<T extends object>(o: { store: Store; sealer: Sealer }, from: string, to: string, secrets: SecretFields<T>, ttlMs?: number): Promise<boolean | undefined> {
  const raw = await o.store.get(from)
  if (raw === undefined) return undefined
  const wrote = await putRecordIfAbsent(o.store, o.sealer, to, openRecord<T>(o.sealer, from, raw, secrets), secrets, ttlMs)
  await o.store.delete(from)
  if (!wrote || (await o.store.get(markKey(from))) !== digest(raw)) return wrote
  await o.store.delete(to)
  return false
}
