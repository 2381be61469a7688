/**
 * The schema bounds every duration the gateway times (`maxDuration`: below Node's 2^31 − 1 ms);
 * a delay the gateway computes from one (the grace left, the kill after it plus a margin, the next
 * summary) passes through here too, so a value that did not come through the schema still waits
 * as long as a timer can instead of firing after 1 ms.
 */
import { MAX_TIMER_MS } from '../config/index.js'

/** `ms` bounded to what setTimeout honours (and to 0 below). */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms))
}
