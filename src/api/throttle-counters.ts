/**
 * The store counters the failure throttles keep: one per source key and one-minute window,
 * `throttle:<counter>:<source>:<window>`, read three at a time (the attempt's minute and the
 * ones either side), or taken from in one atomic take-and-check. Shared by the count of places (failure-throttle.ts) and the count of
 * settled failures (settled-throttle.ts), which differ only in their `<counter>` segment.
 */
import type { Store } from '../store/index.js'
import { estimateWeights, THROTTLE_WINDOW_MS, type WindowCounts } from './sliding-window.js'

/** Where every throttle's counters live in the store. */
const THROTTLE_KEY_PREFIX = 'throttle:'
/** A counter's life: the next minute weighs it until that minute ends; a replica whose clock lags still sees it. */
export const COUNTER_TTL_MS = 2 * THROTTLE_WINDOW_MS

/** The window a time falls in, and how far into it. */
export function windowOf(at: number): [window: number, elapsedMs: number] {
  const window = Math.floor(at / THROTTLE_WINDOW_MS)
  return [window, at - window * THROTTLE_WINDOW_MS]
}

/** The store counters of one source key: the attempt's minute and the ones either side. */
export interface WindowKeys {
  readonly current: string
  readonly previous: string
  readonly next: string
}

/** The store counters named `counter` of a source key's `window` and the ones either side. */
export function windowKeys(counter: string, segment: string, window: number): WindowKeys {
  const key = (w: number): string => `${THROTTLE_KEY_PREFIX}${counter}:${segment}:${w}`
  return { current: key(window), previous: key(window - 1), next: key(window + 1) }
}

/** The three counters of a source key, read at once. */
export async function readCounts(store: Store, keys: WindowKeys): Promise<Required<WindowCounts>> {
  const [current, previous, next] = await Promise.all([readCount(store, keys.current), readCount(store, keys.previous), readCount(store, keys.next)])
  return { current, previous, next }
}

/** A counter's value; absent is 0, and so is anything not a count or below 0 (older versions' take-backs could leave -1). */
export async function readCount(store: Store, key: string): Promise<number> {
  const n = Number(await store.get(key))
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

/**
 * One place taken in `keys.current` by the store's atomic take-and-check (one round trip): taken
 * when the sliding-window estimate at `elapsedMs` of the three counters, as they stood just
 * before, was under `max`; else nothing written, and the counts that refused it. `also`'s three
 * counters are read in the same step (weight 0: they decide nothing), for a refusal's
 * `Retry-After` without a second round trip ('unknown' when the store could not read them: a Redis
 * Cluster reads them from another node). `take` false only reads (a bound of 0 is never met).
 */
export async function takePlace(store: Store, keys: WindowKeys, elapsedMs: number, max: number, also?: WindowKeys, take = true): Promise<{ taken: boolean; counts: Required<WindowCounts>; also?: Required<WindowCounts> | 'unknown' }> {
  const w = estimateWeights(elapsedMs, max)
  const counters = [{ key: keys.current, weight: w.current }, { key: keys.previous, weight: w.previous }, { key: keys.next, weight: w.next }]
  if (also) counters.push({ key: also.current, weight: 0 }, { key: also.previous, weight: 0 }, { key: also.next, weight: 0 })
  const { added, counts } = await store.incrementIfUnder(counters, take ? w.bound : 0, COUNTER_TTL_MS)
  const [current = 0, previous = 0, next = 0, alsoCurrent, alsoPrevious, alsoNext] = counts
  const alsoCounts = alsoCurrent === undefined || alsoPrevious === undefined || alsoNext === undefined ? 'unknown' : { current: alsoCurrent, previous: alsoPrevious, next: alsoNext }
  return { taken: added, counts: { current, previous, next }, ...(also ? { also: alsoCounts } : {}) }
}
