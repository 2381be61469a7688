/**
 * The `--workers` primary's backoff for replacing crashed workers, so a crash loop does not spin
 * the CPU: 100 ms after one crash in the last 30 s, doubling with each more, at most 5 s.
 */

/** Records a crash at `now` in `crashes` (kept to the last 30 s) and returns the delay before the replacement. */
export function nextCrashDelay(crashes: number[], now = Date.now()): number {
  crashes.push(now)
  while (crashes.length > 0 && (crashes[0] as number) < now - 30_000) crashes.shift()
  return Math.min(5000, 100 * 2 ** (crashes.length - 1))
}
