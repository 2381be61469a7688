/**
 * One failure throttle for every check of an admin secret (the console's sign-in, the
 * OAuth operator routes), shared by every worker and replica on the same store. Each
 * attempt takes a place before the secret is compared and gives it back when the secret
 * was right, so a wrong one counts and parallel guesses cannot all slip past one check:
 * past `max` wrong attempts from one source key in a fixed one-minute window, that key
 * waits until the window ends, right secret or wrong, while every other key goes on.
 *
 * The count is one store counter per source key and window,
 * `throttle:<name>:<source>:<window>`, moved with the store's atomic increment: an attempt
 * adds one before the secret is compared and is refused when that makes more than `max`; a
 * right secret takes its one back. A flood from one address thus moves one key (one write
 * per attempt, nothing more for a refused one), which expires two windows after it was made.
 * The in-process count (local-throttle.ts) is kept beside it: it decides alone while the
 * store does not answer (the throttle never disappears, and an outage locks no operator
 * out), and it is asked first while the store does (an outage's guesses still count here
 * afterwards).
 */
import type { Store } from '../store/index.js'
import { createLocalThrottle } from './local-throttle.js'
import { sourceKey, storeSegment } from './source-key.js'

/** The length of a counting window. */
export const THROTTLE_WINDOW_MS = 60_000
/** Where every throttle's counters live in the store. */
export const THROTTLE_KEY_PREFIX = 'throttle:'
// Kept past its window: a replica whose clock lags still sees it; the window in the key decides.
const COUNTER_TTL_MS = 2 * THROTTLE_WINDOW_MS

/** What a throttle guards and where it counts. */
export interface FailureThrottleOptions {
  /** The secret guarded, a store-key segment ([a-z0-9-]+): the counts of two secrets never mix. */
  name: string
  /** Wrong attempts allowed per source key per window. */
  max: number
  /** How many source keys the in-process count remembers. */
  maxAddresses: number
  /** The shared store, when there is one; a throw counts as a store that does not answer. */
  store: () => Store | undefined
  now?: () => number
}

/** One attempt: admitted (compare the secret, then `release()` if it was right), or refused (429). */
export type Attempt =
  | { readonly admitted: true; readonly key: string; release(): Promise<void> }
  | { readonly admitted: false; readonly key: string; readonly retryAfterSec: number }

/** Admits or refuses attempts per source address. */
export interface FailureThrottle {
  /** Takes a place for one attempt from `address` before the secret is compared. */
  admit(address: string | undefined): Promise<Attempt>
}

/** Creates a throttle; its in-process count lives as long as the throttle (reloads keep it). */
export function createFailureThrottle(o: FailureThrottleOptions): FailureThrottle {
  if (!/^[a-z0-9-]+$/.test(o.name)) throw new TypeError(`failure throttle name "${o.name}" must match [a-z0-9-]+`)
  const local = createLocalThrottle({ max: o.max, maxAddresses: o.maxAddresses })
  const now = o.now ?? Date.now
  const counter = (segment: string, window: number): string => `${THROTTLE_KEY_PREFIX}${o.name}:${segment}:${window}`

  return {
    async admit(address) {
      const key = sourceKey(address)
      const at = now()
      const window = Math.floor(at / THROTTLE_WINDOW_MS)
      const refused: Attempt = { admitted: false, key, retryAfterSec: Math.max(1, Math.ceil(((window + 1) * THROTTLE_WINDOW_MS - at) / 1000)) }
      if (!local.claim(key, window)) return refused
      const counterKey = counter(storeSegment(key), window)
      let taken: Store | undefined
      try {
        const store = o.store()
        // A refused attempt leaves its one in place (taking it back would be a second write per
        // attempt): the window stays used up until it ends; only an admitted one is given back.
        if (store && (await store.increment(counterKey, 1, COUNTER_TTL_MS)) > o.max) {
          local.release(key, window)
          return refused
        }
        taken = store
      } catch {
        // The store does not answer: this process's count, already taken above, decides.
      }
      return {
        admitted: true,
        key,
        async release() {
          local.release(key, window)
          // Not given back while the store is away: one right attempt counted as wrong, until the window ends.
          if (taken) await taken.increment(counterKey, -1, COUNTER_TTL_MS).catch(() => 0)
        },
      }
    },
  }
}
