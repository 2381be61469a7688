/**
 * The failure throttle's rule, shared by its store and in-process halves: a sliding-window
 * estimate from two fixed one-minute counters. An attempt at `elapsedMs` into the current
 * window is refused when `current + previous × (WINDOW − 1 − elapsedMs) / WINDOW` is `max` or
 * more, where `current` and `previous` count this window's and the last one's admitted wrong
 * attempts. The previous window weighs by the share of its milliseconds still within the last
 * 60 s, (t − 60 s, t]: the millisecond exactly 60 s ago is out, so this window's e + 1 and the
 * last one's W − 1 − e make one minute, not 60.001 s (which made `Retry-After` 61 after a
 * limit reached in a minute's first millisecond). The previous window's count fades out over
 * this one instead of dropping to 0 at the boundary, so a burst of `max` at 0:59.9 is no longer
 * followed by `max` more at 1:00.0.
 *
 * What it guarantees (with `max` per window, which it also never exceeds): in any interval
 * of length L ≤ WINDOW at most `max + ⌈max × L / WINDOW⌉` wrong attempts are admitted (the
 * last one admitted at elapsed e of its window had `current + previous × (W − 1 − e) / W < max`;
 * an interval reaching back into the last window has L ≥ e + 1, so its part of both windows
 * holds fewer than `max + previous × (e + 1) / W + 1 ≤ max + max × L / W + 1`). Across a
 * boundary that is `max + 1` within a second for `max` ≤ 60; spread over a whole minute, up to
 * `2 × max` as before. Attempts in flight at once keep it: each is admitted by one atomic
 * take-and-check in the store, so the one taken last saw every other's count (one in the next
 * window counted in full). Each process
 * counting alone (a store outage) keeps it per process. While no count is above `max` and none
 * is in the next window, the wait until an attempt is admitted is at most one minute.
 */

/** The length of a counting window. */
export const THROTTLE_WINDOW_MS = 60_000

/**
 * Admitted wrong attempts counted in this window and the one before it; and in the one after,
 * which only an attempt racing one stamped a moment later (or a replica whose clock runs
 * ahead) sees: it counts in full, so of two such attempts at least one sees the other.
 */
export interface WindowCounts {
  readonly current: number
  readonly previous: number
  readonly next?: number
}

/**
 * The estimate at `elapsedMs` as whole numbers: what each window's count weighs (this one's and
 * the next one's W, the last one's W − 1 − elapsed) and the bound their sum must stay under (max × W).
 * The store's take-and-check (Store.incrementIfUnder) weighs its counters by them.
 */
export function estimateWeights(elapsedMs: number, max: number): { current: number; next: number; previous: number; bound: number } {
  const W = THROTTLE_WINDOW_MS
  return { current: W, next: W, previous: W - 1 - elapsedMs, bound: max * W }
}

/** Whether the weighted estimate is `max` or more (integer arithmetic: no rounding at the edge). */
export function estimateReaches(counts: WindowCounts, elapsedMs: number, max: number): boolean {
  const w = estimateWeights(elapsedMs, max)
  return counts.current * w.current + (counts.next ?? 0) * w.next + counts.previous * w.previous >= w.bound
}

/** The smallest integer greater than `n / d` (d > 0), exactly. */
const justAbove = (n: number, d: number): number => (n - (((n % d) + d) % d)) / d + 1

/**
 * Milliseconds from `elapsedMs` until an attempt would be admitted if none is made meanwhile:
 * the estimate only falls with time (within a window the previous count's weight shrinks; at
 * the boundary the current count becomes the previous one, weighing (W − 1) / W of itself).
 */
export function msUntilAdmitted(counts: WindowCounts, elapsedMs: number, max: number): number {
  const W = THROTTLE_WINDOW_MS
  if (!estimateReaches(counts, elapsedMs, max)) return 0
  const { current, previous } = counts
  const next = counts.next ?? 0
  if (current + next < max) {
    // In this window (previous > 0, or the estimate would be under max): previous × (W − 1 − e) < (max − current − next) × W.
    const at = justAbove(previous * (W - 1) - (max - current - next) * W, previous)
    if (at < W) return at - elapsedMs
  }
  // From the next one's start, where this window's count is the previous and the next one's the current.
  return W - elapsedMs + msUntilAdmitted({ current: next, previous: current }, 0, max)
}

/** `Retry-After` for a refusal: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(counts: WindowCounts, elapsedMs: number, max: number): number {
  return Math.max(1, Math.ceil(msUntilAdmitted(counts, elapsedMs, max) / 1000))
}
