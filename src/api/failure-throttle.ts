/**
 * The count of places under every failure throttle (settled-throttle.ts puts it in front of the
 * console's sign-in, the OAuth operator routes and token exchanges), shared by every worker and
 * replica on the same store. Each attempt takes a place before the secret is compared and gives
 * it back when the secret was right, so the wrong attempts and those still in flight together
 * stay within `max`: parallel guesses cannot all slip past one check. Alone it would refuse
 * right secrets too while others are in flight; settled-throttle.ts makes those wait instead.
 * The rule is a sliding window (sliding-window.ts): no place is given while this minute's places
 * plus the last minute's, weighted by the part of it still inside the last 60 seconds, reach
 * `max`; every other source key goes on.
 *
 * The counts are one store counter per source key and minute,
 * `throttle:<name>:<source>:<window>`, moved with the store's atomic increment. An attempt
 * reads this minute's, the last minute's and the next one's counters (the next in full: what
 * a replica whose clock runs ahead counted); when the estimate has reached `max` it is
 * refused there, having written nothing. Otherwise it adds one, reads the last minute's
 * again and the next one's (so of two attempts racing across a boundary one sees the other)
 * and is admitted when its own count still keeps the estimate under `max`; a loser of a race
 * takes its one back. A right secret takes its one back too. A take-back never takes a
 * counter below 0 nor makes one (a counter that expired stays gone). So an admitted attempt
 * writes once, a refused one not at all (twice only for a lost race), and a counter expires
 * two minutes after it was made, once the next minute no longer weighs it.
 * The in-process count (local-throttle.ts) is kept beside it: it decides alone while the
 * store does not answer (the throttle never disappears, and an outage locks no operator
 * out), and it is asked first while the store does (an outage's guesses still count here
 * afterwards; a refusal it makes still reads the store's two counters for its Retry-After).
 * Its minutes are on a clock that never steps, so a wall clock stepped back or forward during
 * an outage neither frees an address early nor keeps it refused.
 */
import type { Store } from '../store/index.js'
import { createLocalThrottle } from './local-throttle.js'
import { estimateReaches, retryAfterSeconds, type WindowCounts } from './sliding-window.js'
import { sourceKey, storeSegment } from './source-key.js'
import { COUNTER_TTL_MS, readCount, readCounts, windowKeys, windowOf, type WindowKeys } from './throttle-counters.js'

export { THROTTLE_WINDOW_MS } from './sliding-window.js'

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
  /** The wall clock, whose minutes name the store's counters (shared with other processes). */
  now?: () => number
  /**
   * The in-process count's clock, which must never step (a clock stepped back or forward would
   * free an address early, or keep it refused): default the monotonic clock from the wall clock's
   * reading at the process's start (the same minutes until a step); `now` when only that is given.
   */
  steadyNow?: () => number
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
  const steadyNow = o.steadyNow ?? o.now ?? (() => Math.floor(performance.timeOrigin + performance.now()))
  const refusal = (key: string, counts: WindowCounts, elapsedMs: number): Attempt => ({ admitted: false, key, retryAfterSec: retryAfterSeconds(counts, elapsedMs, o.max) })

  return {
    async admit(address) {
      const key = sourceKey(address)
      const [window, elapsed] = windowOf(now())
      const keys = windowKeys(o.name, storeSegment(key), window)
      const [own, ownElapsed] = windowOf(steadyNow())
      if (!local.claim(key, own, ownElapsed)) return { admitted: false, key, retryAfterSec: await localRefusalSec(o.store, keys, retryAfterSeconds(local.counts(key, own), ownElapsed, o.max), elapsed, o.max) }
      let taken: Store | undefined
      try {
        const store = o.store()
        const outcome = store && (await takeInStore(store, keys, elapsed, o.max))
        if (outcome && outcome !== TAKEN) {
          local.release(key, own)
          return refusal(key, outcome, elapsed)
        }
        taken = store
      } catch {
        // The store does not answer: this process's count, already taken above, decides.
      }
      return {
        admitted: true,
        key,
        async release() {
          local.release(key, own)
          // Not given back while the store is away: one right attempt counted as wrong until it fades out.
          if (taken) await taken.decrementIfPositive(keys.current).catch(() => undefined)
        },
      }
    },
  }
}

/** takeInStore's answer for a place taken in the store's count (perhaps: see there). */
const TAKEN = 'taken'

/**
 * Takes a place in the store's count for an attempt `elapsedMs` into the window: TAKEN when
 * taken (one increment, also when the reads after it fail), else the counts that refused it
 * (nothing left written); a throw when the store did not answer before anything was written.
 */
async function takeInStore(store: Store, keys: WindowKeys, elapsedMs: number, max: number): Promise<WindowCounts | typeof TAKEN> {
  const before = await readCounts(store, keys)
  if (estimateReaches(before, elapsedMs, max)) return before
  // An increment that fails may have landed all the same (its reply lost, or replicas that did
  // not confirm it): counted as landed, so a right secret gives one back, which cannot go below 0.
  const mine = await store.increment(keys.current, 1, COUNTER_TTL_MS).catch(() => undefined)
  // Read after the increment: of two attempts racing across a boundary, the later-stamped one
  // sees the earlier one in its previous minute, or the earlier one sees it in its next. Without
  // the increment's answer its own count is this minute's as read now (its one included, and any
  // that landed since: stricter, never looser), or replicas on such a store would each let `max`
  // through at once. A store that stops answering now leaves this process's count to decide, as
  // one that never answered does; but the one is taken, so a right secret gives it back.
  const after = await Promise.all([mine ?? readCount(store, keys.current), readCount(store, keys.previous), readCount(store, keys.next)]).catch(() => undefined)
  if (!after) return TAKEN
  const [counted, previousNow, next] = after
  // Never below 0: a counter an older version's take-back left at -1 is no credit.
  const counts = { current: Math.max(0, counted - 1), previous: previousNow, next }
  if (!estimateReaches(counts, elapsedMs, max)) return TAKEN
  // Lost a race: refused, and its one taken back, so a refusal never counts. A take-back that
  // fails leaves it counted: the address is refused sooner, never later (not retried: a
  // take-back whose reply was lost may have landed, and a second would give one away).
  await store.decrementIfPositive(keys.current).catch(() => undefined)
  return counts
}

/**
 * `Retry-After` of an attempt the in-process count refused: the later of its wait (`own`) and the store's
 * count's, which other processes moved too (an attempt is admitted only when both let it through).
 */
async function localRefusalSec(store: () => Store | undefined, keys: WindowKeys, own: number, elapsedMs: number, max: number): Promise<number> {
  try {
    const s = store()
    if (!s) return own
    return Math.max(own, retryAfterSeconds(await readCounts(s, keys), elapsedMs, max))
  } catch {
    return own // The store does not answer: this process's count alone decides when.
  }
}
