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
 * `throttle:<name>:<source>:<window>`. An attempt takes its place with one atomic
 * take-and-check (Store.incrementIfUnder: one Lua script on Redis, one IMMEDIATE transaction on
 * SQLite, one synchronous turn in memory): it reads this minute's, the last minute's and the
 * next one's counters (the next in full: what a replica whose clock runs ahead counted) and adds
 * one to this minute's only when the estimate stays under `max`; else it is refused, having
 * written nothing. Being atomic, of two attempts racing across a boundary the later one sees
 * the earlier one (in its previous minute, or in its next), with no re-read and no race lost.
 * A right secret takes its one back; a take-back never takes a counter below 0 nor makes one
 * (a counter that expired stays gone). So an admitted attempt costs one round trip (two with a
 * right secret's take-back), a refused one one round trip and no write, and a counter expires
 * two minutes after it was made, once the next minute no longer weighs it. A take the store did
 * not answer is counted as landed when the store says it may have (Store.mayHaveLanded: Redis, a
 * timeout or a reply lost; a hung Redis runs it when it wakes): a right secret's give-back follows
 * it on the same connection. A take that certainly never ran is not given back: one SQLite or
 * memory refused (SQLITE_BUSY) rolled back; one Redis refused (OOM) or never got (down, or refused
 * at once after an earlier failure of the request). On a Redis whose replicas do not confirm writes the take's answer stands (it landed on the
 * primary), so replicas still share the count.
 * The in-process count (local-throttle.ts) is kept beside it: it decides alone while the
 * store does not answer (the throttle never disappears, and an outage locks no operator
 * out), and it is asked first while the store does (an outage's guesses still count here
 * afterwards; a refusal it makes still reads the store's counters for its Retry-After, a read
 * that writes nothing: no WAIT on Redis, no write lock on SQLite).
 * Its minutes are on a clock that never steps, so a wall clock stepped back or forward during
 * an outage neither frees an address early nor keeps it refused.
 */
import { asUnwaitedWrite, type Store } from '../store/index.js'
import { createLocalThrottle } from './local-throttle.js'
import { retryAfterSeconds, type WindowCounts } from './sliding-window.js'
import { sourceKey, storeSegment } from './source-key.js'
import { takePlace, windowKeys, windowOf, type WindowKeys } from './throttle-counters.js'

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

/** The store's counts of the `alsoRead` counter as a refusal read them, and how far into its minute. */
export interface AlsoCounts {
  readonly counts: Required<WindowCounts>
  readonly elapsedMs: number
}

/**
 * One attempt: admitted (compare the secret, then `release()` if it was right), or refused (429; `also`
 * when the store answered; 'unknown' when it answered but could not read them: a Redis Cluster node apart).
 */
export type Attempt =
  | { readonly admitted: true; readonly key: string; release(): Promise<void> }
  | { readonly admitted: false; readonly key: string; readonly retryAfterSec: number; readonly also: AlsoCounts | 'unknown' | undefined }

/** Admits or refuses attempts per source address. */
export interface FailureThrottle {
  /** Takes a place for one attempt from `address` before the secret is compared. */
  admit(address: string | undefined): Promise<Attempt>
}

/**
 * Creates a throttle; its in-process count lives as long as the throttle (reloads keep it). `alsoRead`:
 * another counter of the source key (a store-key segment) whose three minutes every store call of an
 * attempt reads in the same step, for a refusal to hand on (settled-throttle.ts: the settled failures).
 */
export function createFailureThrottle(o: FailureThrottleOptions, alsoRead?: string): FailureThrottle {
  if (!/^[a-z0-9-]+$/.test(o.name)) throw new TypeError(`failure throttle name "${o.name}" must match [a-z0-9-]+`)
  const local = createLocalThrottle({ max: o.max, maxAddresses: o.maxAddresses })
  const now = o.now ?? Date.now
  const steadyNow = o.steadyNow ?? o.now ?? (() => Math.floor(performance.timeOrigin + performance.now()))
  const refusal = (key: string, counts: WindowCounts, elapsedMs: number, also: Required<WindowCounts> | 'unknown' | undefined): Attempt =>
    ({ admitted: false, key, retryAfterSec: retryAfterSeconds(counts, elapsedMs, o.max), also: alsoCounts(also, elapsedMs) })

  return {
    async admit(address) {
      const key = sourceKey(address)
      const [window, elapsed] = windowOf(now())
      const keys = windowKeys(o.name, storeSegment(key), window)
      const also = alsoRead === undefined ? undefined : windowKeys(alsoRead, storeSegment(key), window)
      const [own, ownElapsed] = windowOf(steadyNow())
      if (!local.claim(key, own, ownElapsed)) return { admitted: false, key, ...(await localRefusal(o.store, keys, also, retryAfterSeconds(local.counts(key, own), ownElapsed, o.max), elapsed, o.max)) }
      let store: Store | undefined
      let taken: { store: Store; key: string; answered: boolean } | undefined
      try {
        store = o.store()
        const place = store && (await takePlace(store, keys, elapsed, o.max, also))
        if (place && !place.taken) {
          local.release(key, own)
          return refusal(key, place.counts, elapsed, place.also)
        }
        if (store) taken = { store, key: keys.current, answered: true }
      } catch (e) {
        // The store does not answer: this process's count, already taken above, decides. A right
        // secret gives back only a take that may have landed all the same (a Redis reply lost, the
        // store says): one a SQLite or memory store refused rolled back, and a give-back of it would
        // take off another attempt's place.
        if (store?.mayHaveLanded(e) === true) taken = { store, key: keys.current, answered: false }
      }
      return admitted(key, () => local.release(key, own), taken)
    },
  }
}

/**
 * An admitted attempt whose release gives its place back in this process (`local`) and in the
 * store it was taken in, if any (`taken.answered`: the take answered, else it may land later).
 */
function admitted(key: string, local: () => void, taken: { store: Store; key: string; answered: boolean } | undefined): Attempt {
  return {
    admitted: true,
    key,
    async release() {
      local()
      if (!taken) return
      if (taken.answered) return void (await taken.store.decrementIfPositive(taken.key).catch(() => undefined))
      // A take a hung store never answered runs when it wakes: its give-back goes after it on the
      // same connection, as a request of its own (the request's store calls fail at once once one
      // failed, request-wait.ts), unwaited (the request waited out the store once already), and
      // without WAIT (a WAIT per such give-back would hold the connection while replicas are away).
      void asUnwaitedWrite('a give-back of a take the store did not answer', () => taken.store.decrementIfPositive(taken.key)).catch(() => undefined)
    },
  }
}

/**
 * `Retry-After` of an attempt the in-process count refused: the later of its wait (`own`) and the store's
 * count's, which other processes moved too (an attempt is admitted only when both let it through); read
 * with `also`'s counters in one step that writes nothing (the take-and-check with a bound never met: the
 * store's read path, no WAIT nor write lock).
 */
async function localRefusal(store: () => Store | undefined, keys: WindowKeys, also: WindowKeys | undefined, own: number, elapsedMs: number, max: number): Promise<{ retryAfterSec: number; also: AlsoCounts | 'unknown' | undefined }> {
  try {
    const s = store()
    if (!s) return { retryAfterSec: own, also: undefined }
    const read = await takePlace(s, keys, elapsedMs, max, also, false)
    return { retryAfterSec: Math.max(own, retryAfterSeconds(read.counts, elapsedMs, max)), also: alsoCounts(read.also, elapsedMs) }
  } catch {
    return { retryAfterSec: own, also: undefined } // The store does not answer: this process's count alone decides when.
  }
}

/** The `alsoRead` counts a store call read, as a refusal hands them on. */
function alsoCounts(read: Required<WindowCounts> | 'unknown' | undefined, elapsedMs: number): AlsoCounts | 'unknown' | undefined {
  return read === undefined || read === 'unknown' ? read : { counts: read, elapsedMs }
}
