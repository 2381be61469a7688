/**
 * Node's timers take at most 2^31 − 1 ms (about 24.8 days); a longer delay (a duration the config
 * allows, such as `interval: 1000h`) is run after 1 ms with a TimeoutOverflowWarning. Delays from
 * the config pass through here, so a long one waits as long as a timer can instead of firing at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** `ms` bounded to what setTimeout honours (and to 0 below). */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms))
}
