/**
 * The in-process half of the failure throttle: attempts counted per source key in this
 * process's memory, in the same fixed one-minute windows as the store's count. It is what
 * still decides while the store does not answer, and it is consulted while the store does,
 * so an outage never lets through a guess this process would have stopped. The map is
 * capped, the key that claimed least recently going first, so a flood from many addresses
 * is bounded too.
 */

/** Attempts counted per source key in this process. */
export interface LocalThrottle {
  /** Counts one attempt for `key` in `window` when fewer than the limit are counted; false when the limit is reached. */
  claim(key: string, window: number): boolean
  /** Uncounts one attempt of `key` in `window` (the secret was right). */
  release(key: string, window: number): void
  /** Attempts counted for `key` in `window`. */
  count(key: string, window: number): number
  /** Keys remembered now (at most `maxAddresses`). */
  readonly size: number
}

/** Options: the attempts allowed per key in a window, and how many keys are remembered. */
export interface LocalThrottleOptions {
  max: number
  maxAddresses: number
}

/** Creates an empty in-process throttle. */
export function createLocalThrottle(o: LocalThrottleOptions): LocalThrottle {
  // Insertion order is recency: a claim moves its key to the end, the first is evicted.
  const counts = new Map<string, { window: number; n: number }>()
  const count = (key: string, window: number): number => {
    const entry = counts.get(key)
    return entry?.window === window ? entry.n : 0
  }
  return {
    count,
    claim(key, window) {
      const n = count(key, window)
      if (n >= o.max) return false
      counts.delete(key)
      counts.set(key, { window, n: n + 1 })
      for (const oldest of counts.keys()) {
        if (counts.size <= o.maxAddresses) break
        counts.delete(oldest)
      }
      return true
    },
    release(key, window) {
      const entry = counts.get(key)
      if (entry?.window !== window || entry.n === 0) return
      entry.n -= 1
      if (entry.n === 0) counts.delete(key)
    },
    get size() {
      return counts.size
    },
  }
}
