/**
 * Ending records by what they hold rather than by the expiry they were stored with: a setting
 * that shortens how long a kind of record may live (callers.anonymousTtl) ends the records already
 * stored as it ends new ones. Each write only over the value read (replaceIfUnchanged), so a record
 * written again meanwhile keeps what its writer gave it.
 */
import type { Store } from './store.js'

/** When a record ends (ms since the epoch), and the end it was stored with when it says so. */
export interface RecordEnd {
  readonly end: number
  readonly written?: number
}

/**
 * Each record under `prefix` that `endOf` gives an end: removed once that is past, else made to
 * expire then when that comes before the end it was written with (so never later than written; a
 * record that does not say what it was written with is only removed once past). `companions(key)`:
 * keys whose records end with it (a bearer's sealed claims). Returns how many records it removed.
 */
export async function endRecords(store: Store, prefix: string, endOf: (key: string, text: string) => RecordEnd | undefined, now: number, companions: (key: string) => string[] = () => []): Promise<number> {
  let removed = 0
  for (const key of await store.keys(prefix)) {
    const text = await store.get(key)
    const life = text === undefined ? undefined : endOf(key, text)
    if (text === undefined || life === undefined) continue
    if (!(await endRecord(store, key, text, life, now))) continue
    if (life.end <= now) removed++
    for (const other of companions(key)) {
      const companion = await store.get(other)
      if (companion !== undefined) await endRecord(store, other, companion, life, now)
    }
  }
  return removed
}

/** `text` at `key` removed when `life` is past, else its expiry brought forward to its end when that is earlier than written; true when this call wrote it. */
async function endRecord(store: Store, key: string, text: string, life: RecordEnd, now: number): Promise<boolean> {
  if (life.end <= now) return store.replaceIfUnchanged(key, text, undefined)
  if (life.written === undefined || life.end >= life.written) return false
  return store.replaceIfUnchanged(key, text, text, life.end - now)
}
