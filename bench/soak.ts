/**
 * `--soak SECONDS`: one path under steady closed-loop load, the proxy's RSS sampled every
 * second. Flat memory means no trend: the last 10 s against the 10 s after warm-up.
 */
import { closedLoop } from './load.js'
import type { PathSetup } from './paths.js'
import { memory } from './procs.js'
import { median } from './report.js'

export interface SoakResult {
  path: string
  seconds: number
  requests: number
  errors: number
  /** Seconds since the soak started → RSS bytes. */
  samples: { t: number; rss: number }[]
  /** Median RSS of the last 10 s against that of seconds 10–20, percent. */
  driftPct: number
  /** (max − min) / min over everything after the first 10 s, percent. */
  rangePct: number
}

const WARM_S = 10
const WINDOW_S = 10

/** Drives `setup` for `seconds` (≥ 30) with `users` connections, sampling the proxy's RSS. */
export async function soak(path: string, setup: PathSetup, users: number, seconds: number): Promise<SoakResult> {
  const pid = setup.proxy?.pid
  if (pid === undefined) throw new Error(`--soak needs a proxy path, not ${path}`)
  const samples: SoakResult['samples'] = []
  const started = performance.now()
  const timer = setInterval(() => samples.push({ t: (performance.now() - started) / 1000, rss: memory(pid).rss }), 1000)
  const t = setup.target('empty', users)
  try {
    const run = await closedLoop(t, users, seconds * 1000)
    const warm = samples.filter((s) => s.t > WARM_S).map((s) => s.rss)
    const first = median(warm.slice(0, WINDOW_S))
    const last = median(warm.slice(-WINDOW_S))
    return {
      path,
      seconds,
      requests: run.requests,
      errors: run.errors,
      samples,
      driftPct: ((last - first) / first) * 100,
      rangePct: ((Math.max(...warm) - Math.min(...warm)) / Math.min(...warm)) * 100,
    }
  } finally {
    clearInterval(timer)
    await t.dispatcher.destroy()
  }
}
