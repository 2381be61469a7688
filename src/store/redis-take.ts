/**
 * Store.incrementIfUnder on Redis: one script (INCREMENT_IF_UNDER_SCRIPT) on the first counter's
 * slot. On a Cluster, counters of weight 0 hashing to another slot (only read: a throttle's settled
 * failures beside its places) are read beside the script, at once, in the same round trip.
 */
import calculateSlot from 'cluster-key-slot'
import { countOf } from './counter-bound.js'
import { INCREMENT_IF_UNDER_SCRIPT } from './redis-scripts.js'
import type { RedisWrite } from './redis-write.js'
import type { BoundedIncrement, WeightedCounter } from './store.js'

/** What the take needs of the store: its keys, its write (the answer stands unconfirmed) and its read. */
export interface TakeStore {
  readonly cluster: boolean
  toRedis(key: string): string
  write(key: string, script: RedisWrite): Promise<number[]>
  get(key: string): Promise<string | undefined>
  /** A failure of the reads beside a take that ran: a give-back must follow it (mayHaveLanded). */
  ranAnyway(failure: Error): void
}

/** The take-and-check of checked `counters` (checkBound), with a TTL in whole ms. */
export async function takeOnRedis(s: TakeStore, counters: readonly WeightedCounter[], bound: number, ttl: string): Promise<BoundedIncrement> {
  const keys = counters.map((c) => s.toRedis(c.key))
  const slot = s.cluster ? calculateSlot(keys[0] as string) : undefined
  const beside = keys.map((k, i) => slot !== undefined && calculateSlot(k) !== slot && (counters[i] as WeightedCounter).weight === 0)
  const inScript = counters.flatMap((c, i) => (beside[i] ? [] : [{ key: keys[i] as string, weight: c.weight }]))
  const script: RedisWrite = ['eval', INCREMENT_IF_UNDER_SCRIPT, inScript.length, ...inScript.map((c) => c.key), String(bound), ttl, ...inScript.map((c) => String(c.weight))]
  const reads = Promise.all(counters.flatMap((c, i) => (beside[i] ? [s.get(c.key).then(countOf)] : []))).catch((e: unknown) => e as Error)
  const [added, ...scriptCounts] = await s.write(keys[0] as string, script)
  const read = await reads
  if (read instanceof Error) {
    if (added === 1) s.ranAnyway(read)
    throw read
  }
  const [inOrder, besideOrder] = [scriptCounts[Symbol.iterator](), read[Symbol.iterator]()]
  return { added: added === 1, counts: beside.map((b) => (b ? besideOrder : inOrder).next().value ?? 0) }
}
