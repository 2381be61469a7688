/**
 * The in-process half of the failure throttle: attempts counted per source key in this
 * process's memory, in the same one-minute windows and by the same sliding-window rule
 * (sliding-window.ts) as the store's count. It is what still decides while the store does
 * not answer, and it is consulted while the store does, so an outage never lets through a
 * guess this process would have stopped. Each key keeps two numbers (this window's and the
 * last one's); the map is capped, the key that claimed least recently going first, so a
 * flood from many addresses is bounded too.
 */
import { estimateReaches, type WindowCounts } from './sliding-window.js'

/** Attempts counted per source key in this process. */
export interface LocalThrottle {
  /**
   * Counts one attempt for `key` in `window`, `elapsedMs` into it, unless the sliding-window
   * estimate has reached the limit; false (and nothing counted) when it has.
   */
  claim(key: string, window: number, elapsedMs: number): boolean
  /** Counts one for `key` in `window` whatever the estimate (a failure settled, of an attempt begun then), also once the next window has begun. */
  add(key: string, window: number): void
  /** Uncounts one attempt of `key` claimed in `window` (the secret was right), also once the next window has begun. */
  release(key: string, window: number): void
  /** Attempts counted for `key` in `window` and in the one before it. */
  counts(key: string, window: number): WindowCounts
  /** Keys remembered now (at most `maxAddresses`). */
  readonly size: number
}

/** Options: the attempts allowed per key in a window, and how many keys are remembered. */
export interface LocalThrottleOptions {
  max: number
  maxAddresses: number
}

const NONE: WindowCounts = { current: 0, previous: 0 }

/** Creates an empty in-process throttle. */
export function createLocalThrottle(o: LocalThrottleOptions): LocalThrottle {
  // Insertion order is recency: a claim moves its key to the end, the first is evicted.
  const entries = new Map<string, { window: number; current: number; previous: number }>()
  const counts = (key: string, window: number): WindowCounts => {
    const entry = entries.get(key)
    if (entry?.window === window) return entry
    return entry?.window === window - 1 ? { current: 0, previous: entry.current } : NONE
  }
  const add = (key: string, window: number): void => {
    const later = entries.get(key)
    // Counted late (the attempt began in an earlier window): the last window's, or too old to weigh.
    if (later !== undefined && later.window > window) return void (later.window === window + 1 && (later.previous += 1))
    const { current, previous } = counts(key, window)
    entries.delete(key)
    entries.set(key, { window, current: current + 1, previous })
    evictPast(entries, o.maxAddresses)
  }
  return {
    counts,
    claim(key, window, elapsedMs) {
      if (estimateReaches(counts(key, window), elapsedMs, o.max)) return false
      add(key, window)
      return true
    },
    add,
    release(key, window) {
      const entry = entries.get(key)
      // A claim made in the last window is that window's count once this one has begun.
      if (entry?.window === window && entry.current > 0) entry.current -= 1
      else if (entry?.window === window + 1 && entry.previous > 0) entry.previous -= 1
      else return
      if (entry.current === 0 && entry.previous === 0) entries.delete(key)
    },
    get size() {
      return entries.size
    },
  }
}

/** Forgets the keys that claimed least recently (the first in `entries`) past `max` of them. */
function evictPast(entries: Map<string, unknown>, max: number): void {
  for (const oldest of entries.keys()) {
    if (entries.size <= max) break
    entries.delete(oldest)
  }
}
