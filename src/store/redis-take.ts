/**
 * Store.incrementIfUnder on Redis: one script (INCREMENT_IF_UNDER_SCRIPT) on the first counter's
 * slot. A bound <= 0 only reads: the script goes the read path (no WAIT, no write failure kept).
 * On a Cluster, counters of weight 0 hashing to another slot (a throttle's settled failures beside
 * its places) are read beside the script: with a read, at once (one round trip); with a take, only
 * once it refused (an admitted take never uses them). Their answer is the script's alone: a failure
 * of that side read leaves those counts unknown (undefined) and is not the request's store failure.
 */
import calculateSlot from 'cluster-key-slot'
import { countOf } from './counter-bound.js'
import { INCREMENT_IF_UNDER_SCRIPT } from './redis-scripts.js'
import type { RedisWrite } from './redis-write.js'
import type { BoundedIncrement, WeightedCounter } from './store.js'

/** What the take needs of the store: its keys, its write (the answer stands unconfirmed), its read of a script, and a read kept out of the request's failures. */
export interface TakeStore {
  readonly cluster: boolean
  toRedis(key: string): string
  write(key: string, script: RedisWrite): Promise<number[]>
  /** The script run as a read: no WAIT, nothing kept as a write that may have run. */
  readScript(script: RedisWrite): Promise<number[]>
  /** A GET whose failure is not remembered for the request (request-wait.ts). */
  sideGet(key: string): Promise<string | undefined>
}

/** The take-and-check of checked `counters` (checkBound), with a TTL in whole ms. */
export async function takeOnRedis(s: TakeStore, counters: readonly WeightedCounter[], bound: number, ttl: string): Promise<BoundedIncrement> {
  const keys = counters.map((c) => s.toRedis(c.key))
  const slot = s.cluster ? calculateSlot(keys[0] as string) : undefined
  const beside = keys.map((k, i) => slot !== undefined && calculateSlot(k) !== slot && (counters[i] as WeightedCounter).weight === 0)
  const inScript = counters.flatMap((c, i) => (beside[i] ? [] : [{ key: keys[i] as string, weight: c.weight }]))
  const script: RedisWrite = ['eval', INCREMENT_IF_UNDER_SCRIPT, inScript.length, ...inScript.map((c) => c.key), String(bound), ttl, ...inScript.map((c) => String(c.weight))]
  const readBeside = (): Promise<(number | undefined)[]> =>
    Promise.all(counters.flatMap((c, i) => (beside[i] ? [s.sideGet(c.key).then(countOf, () => undefined)] : [])))
  const onlyReads = bound <= 0
  // A read: the side read goes out with the script; it never rejects (a failure reads unknown).
  const early = onlyReads && beside.includes(true) ? readBeside() : undefined
  const [added, ...scriptCounts] = onlyReads ? await s.readScript(script) : await s.write(keys[0] as string, script)
  const read = added === 1 || !beside.includes(true) ? [] : await (early ?? readBeside())
  const [inOrder, besideOrder] = [scriptCounts[Symbol.iterator](), read[Symbol.iterator]()]
  return { added: added === 1, counts: beside.map((b) => (b ? besideOrder.next().value : (inOrder.next().value ?? 0))) }
}
