/**
 * The rule of Store.incrementIfUnder, shared by the backends that run it in JavaScript (memory,
 * SQLite) and mirrored by the Redis script (redis-scripts.ts): the counters are read as counts
 * (absent, expired, below 0 or not a whole number: 0), weighed, and the first gets one more
 * only while the weighed sum is under the bound. Integer arithmetic, so no rounding at the edge.
 */
import type { WeightedCounter } from './store.js'

/** Checks an incrementIfUnder call: counters, safe whole weights ≥ 0 and a safe whole bound (a TypeError is code misuse, as a bad TTL is). */
export function checkBound(counters: readonly WeightedCounter[], bound: number): void {
  if (counters.length === 0) throw new TypeError('store: incrementIfUnder needs at least one counter')
  for (const { weight } of counters) {
    if (!Number.isSafeInteger(weight) || weight < 0) throw new TypeError(`store: incrementIfUnder weight must be a safe integer ≥ 0, got ${String(weight)}`)
  }
  if (!Number.isSafeInteger(bound)) throw new TypeError(`store: incrementIfUnder bound must be a safe integer, got ${String(bound)}`)
}

/** A stored value as a count: absent, below 0 (older versions' take-backs left -1) or not a whole number reads 0. */
export function countOf(value: string | undefined): number {
  const n = Number(value)
  return value !== undefined && Number.isSafeInteger(n) && n > 0 ? n : 0
}

/** Whether `counts` (in the counters' order), weighed, stay under `bound`. */
export function weighsUnder(counts: readonly number[], counters: readonly WeightedCounter[], bound: number): boolean {
  return counts.reduce((sum, n, i) => sum + n * (counters[i] as WeightedCounter).weight, 0) < bound
}
