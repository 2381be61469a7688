/**
 * The failure throttle in front of every guarded attempt (the console's sign-in, the OAuth
 * operator routes' admin token, `POST /gateway/token`): an address is refused for FAILURES that
 * have settled, never for attempts of its still in flight, so a burst of right ones (a console in
 * several tabs, a scraper, a caller app exchanging in parallel) is served however large it is.
 *
 * Two counts per source key, both sliding one-minute windows (sliding-window.ts), both in the store
 * (shared by workers and replicas) with an in-process count beside each for outages:
 * - places (failure-throttle.ts): taken before the secret is looked at, given back when the
 *   attempt succeeds; so failures plus attempts in flight never pass `max`, and parallel wrong
 *   attempts are still bounded (`max` at once, whatever the number of processes);
 * - settled failures, `throttle:<name>-failed:<source>:<minute>`: one added when an attempt
 *   settles as failed, in the minute it began (its place is kept).
 * An attempt that finds no place free asks the settled failures: when they have reached `max`
 * it is refused (429; Retry-After from them alone); else the places are held by attempts in
 * flight, and it waits for one to settle (woken by a settle in this process, or by polling the
 * store for other processes'), then tries again. Attempts in flight settle within the
 * listener's timeouts, but a place can also be held by none: a process killed mid-attempt, a
 * take-back the store lost. So the wait is bounded (`waitMs`, default 15 s): past it the attempt
 * is refused as the places stand (`inFlight`, Retry-After until a place would be free). A waiter
 * whose client leaves stops at once (admit's `gone`), counted as nothing.
 */
import { createFailureThrottle, type AlsoCounts, type Attempt, type FailureThrottleOptions } from './failure-throttle.js'
import { createLocalThrottle } from './local-throttle.js'
import { estimateReaches, retryAfterSeconds, type WindowCounts } from './sliding-window.js'
import { sourceKey, storeSegment } from './source-key.js'
import { COUNTER_TTL_MS, readCounts, windowKeys, windowOf } from './throttle-counters.js'

/** How long an attempt waits for a place held by attempts in flight before it is refused. */
export const WAIT_FOR_PLACE_MS = 15_000
// Polling the store for other processes' settles: from the first pause, doubling up to the last.
const FIRST_PAUSE_MS = 10
const LAST_PAUSE_MS = 500

/** A settled throttle's options: the failure throttle's, and how long to wait for a place. */
export interface SettledThrottleOptions extends FailureThrottleOptions {
  waitMs?: number
}

/**
 * An attempt admitted (call `settle` once its outcome is known: failed or not), or refused:
 * for settled failures, or (`inFlight`) for places attempts in flight held past the wait.
 */
export type Admission =
  | { readonly admitted: true; readonly key: string; settle(failed: boolean): Promise<void> }
  | { readonly admitted: false; readonly key: string; readonly retryAfterSec: number; readonly inFlight: boolean }

/** Admits attempts per source address by their settled failures. */
export interface SettledThrottle {
  /**
   * Waits for a place when only attempts in flight hold them. `gone` aborting (the client left,
   * while-connected.ts) ends it at once, rejecting with its reason: a place it had just taken is
   * given back, the settle that woke it wakes the next waiter, and nothing is counted.
   */
  admit(address: string | undefined, gone?: AbortSignal): Promise<Admission>
}

/** Creates a settled throttle; its in-process counts live as long as it does. */
export function createSettledThrottle(o: SettledThrottleOptions): SettledThrottle {
  // Every store call of a place's take reads the settled failures in the same step: a refusal costs one round trip.
  const places = createFailureThrottle(o, failedCounter(o.name))
  const failures = createFailureCount(o)
  const wakeups = createWakeups()
  const steadyNow = o.steadyNow ?? o.now ?? (() => performance.now())
  const waitMs = o.waitMs ?? WAIT_FOR_PLACE_MS
  return {
    async admit(address, gone) {
      const deadline = steadyNow() + waitMs
      // Leaving passes on any wake-up meant for it: the next waiter asks instead.
      const leave = (key: string): never => {
        wakeups.wakeOne(key)
        throw gone?.reason
      }
      gone?.throwIfAborted()
      for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, LAST_PAUSE_MS)) {
        const failure = failures.at(address)
        const attempt = await places.admit(address)
        if (attempt.admitted) {
          if (!gone?.aborted) return settledOnce(attempt, failure, wakeups)
          await attempt.release()
          return leave(attempt.key)
        }
        const settledSec = await failures.at(address).refusalSec(attempt.also)
        if (gone?.aborted) return leave(attempt.key)
        if (settledSec !== undefined || steadyNow() >= deadline) {
          // The next waiter asks now too: the failures that refused this one may refuse it.
          wakeups.wakeOne(attempt.key)
          return { admitted: false, key: attempt.key, retryAfterSec: settledSec ?? attempt.retryAfterSec, inFlight: settledSec === undefined }
        }
        await wakeups.wait(attempt.key, pause, gone)
      }
    },
  }
}

/** The counter of a throttle's settled failures: `throttle:<name>-failed:<source>:<minute>`. */
const failedCounter = (name: string): string => `${name}-failed`

/** An admitted attempt whose first settle counts (a failure added, or its place given back) and wakes the next waiter. */
function settledOnce(attempt: Attempt & { admitted: true }, failure: Failure, wakeups: Wakeups): Admission {
  let settled = false
  return {
    admitted: true,
    key: attempt.key,
    async settle(failed) {
      if (settled) return
      settled = true
      await (failed ? failure.add() : attempt.release())
      wakeups.wakeOne(attempt.key)
    },
  }
}

/** One source key's settled failures as of now: adding one (counted in this minute), or a refusal's Retry-After. */
interface Failure {
  add(): Promise<void>
  /**
   * Seconds until the settled failures fall under `max`; undefined when they are under it. From the
   * store's counts `read` with the take, else read now; 'unknown' (the store answered the take but
   * not that read): this process's count alone, for a read now would ask the same node again and
   * fail the request's later store calls at once (request-wait.ts), leaving them to this process's count.
   */
  refusalSec(read: AlsoCounts | 'unknown' | undefined): Promise<number | undefined>
}

/** The settled failures per source key: in the store when it answers, and in this process always. */
function createFailureCount(o: SettledThrottleOptions): { at(address: string | undefined): Failure } {
  const local = createLocalThrottle({ max: o.max, maxAddresses: o.maxAddresses })
  const now = o.now ?? Date.now
  const steadyNow = o.steadyNow ?? o.now ?? (() => Math.floor(performance.timeOrigin + performance.now()))
  const reaching = (counts: WindowCounts, elapsedMs: number): number | undefined => (estimateReaches(counts, elapsedMs, o.max) ? retryAfterSeconds(counts, elapsedMs, o.max) : undefined)
  return {
    at(address) {
      const key = sourceKey(address)
      const [window, elapsed] = windowOf(now())
      const [own, ownElapsed] = windowOf(steadyNow())
      const keys = windowKeys(failedCounter(o.name), storeSegment(key), window)
      return {
        async add() {
          local.add(key, own)
          // Not counted in the store while it does not answer: this process's count holds it.
          await Promise.resolve()
            .then(() => o.store()?.increment(keys.current, 1, COUNTER_TTL_MS))
            .catch(() => undefined)
        },
        async refusalSec(read) {
          const mine = reaching(local.counts(key, own), ownElapsed)
          const store = read === 'unknown' ? undefined : read ?? (await Promise.resolve()
            .then(() => o.store())
            .then(async (s) => s && { counts: await readCounts(s, keys), elapsedMs: elapsed })
            .catch(() => undefined))
          const shared = store && reaching(store.counts, store.elapsedMs)
          return mine === undefined && shared === undefined ? undefined : Math.max(mine ?? 0, shared ?? 0)
        },
      }
    },
  }
}

/** Attempts of this process waiting for a place, per source key: a settle wakes the longest waiting, `gone` aborting the one it belongs to. */
interface Wakeups {
  wait(key: string, ms: number, gone?: AbortSignal): Promise<void>
  wakeOne(key: string): void
}

/** The wake-ups of one throttle's waiters. */
function createWakeups(): Wakeups {
  const waiting = new Map<string, (() => void)[]>()
  return {
    wait(key, ms, gone) {
      return new Promise((resolve) => {
        const queue = waiting.get(key) ?? []
        waiting.set(key, queue)
        const wake = (): void => {
          clearTimeout(timer)
          gone?.removeEventListener('abort', wake)
          const at = queue.indexOf(wake)
          if (at >= 0) queue.splice(at, 1)
          if (queue.length === 0 && waiting.get(key) === queue) waiting.delete(key)
          resolve()
        }
        const timer = setTimeout(wake, ms)
        queue.push(wake)
        gone?.addEventListener('abort', wake, { once: true })
      })
    },
    wakeOne(key) {
      waiting.get(key)?.[0]?.()
    },
  }
}
