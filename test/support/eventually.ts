/**
 * Waiting for a condition with a deadline instead of sleeping a fixed time and asserting:
 * on a loaded 2-core machine a timer or a file event can be late, never early.
 */

/** Generous default deadline: long enough for a loaded CI machine, short enough to fail visibly. */
export const DEFAULT_DEADLINE_MS = 15_000

/**
 * How long a spawned process (gateway, nginx, Redis, a Python peer) may take to say it is
 * ready. A gateway that starts in well under a second took 7-8 s on a 2-core machine busy
 * with a CI run; a deadline near that fails a start that was only slow. Waiting longer
 * costs nothing when the process starts, and a process that never does still fails.
 */
export const START_DEADLINE_MS = 90_000

/** Polls `check` until it returns a value that is not undefined or false (a throw counts as not yet). */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = DEFAULT_DEADLINE_MS, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
