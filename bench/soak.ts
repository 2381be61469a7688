/**
 * `--soak SECONDS`: one path under steady closed-loop load, the proxy's RSS sampled every
 * second. Under load RSS is a sawtooth (it climbs until a major collection, then drops), so
 * a window of a few seconds lands on a tooth or a trough by chance. Flat memory means no
 * trend in the sawtooth: neither its troughs (what survives collections, where a leak
 * shows) nor its peaks (5th and 95th percentiles) move between the first and the last
 * third of the soak.
 */
import { closedLoop } from './load.js'
import type { PathSetup } from './paths.js'
import { memory } from './procs.js'

export interface SoakResult {
  path: string
  seconds: number
  requests: number
  errors: number
  /** Seconds since the soak started → RSS bytes. */
  samples: { t: number; rss: number }[]
  /** The larger (by magnitude) of troughDriftPct and peakDriftPct: the target's figure. */
  driftPct: number
  /** The troughs (5th percentile) of the last third against the first third's (after the first 10 s), percent. */
  troughDriftPct: number
  /** The peaks (95th percentile) of the last third against the first third's, percent. */
  peakDriftPct: number
  /** (max − min) / min over everything after the first 10 s, percent. */
  rangePct: number
}

const WARM_S = 10

/** The q-quantile (nearest rank) of some numbers. */
function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

/** The trend of a sawtooth: its troughs and peaks, last third against first third after `warmS`. */
export function rssTrend(samples: readonly { t: number; rss: number }[], warmS = WARM_S): { driftPct: number; troughDriftPct: number; peakDriftPct: number; rangePct: number } {
  const warm = samples.filter((s) => s.t > warmS).map((s) => s.rss)
  const third = Math.floor(warm.length / 3)
  if (third < 1) throw new Error(`a soak needs at least 3 RSS samples after the first ${warmS} s`)
  const [first, last] = [warm.slice(0, third), warm.slice(-third)]
  const pct = (a: number, b: number): number => ((b - a) / a) * 100
  // 5th and 95th percentiles rather than min and max: one odd sample does not make a trend.
  const troughDriftPct = pct(percentile(first, 0.05), percentile(last, 0.05))
  const peakDriftPct = pct(percentile(first, 0.95), percentile(last, 0.95))
  return {
    driftPct: Math.abs(troughDriftPct) >= Math.abs(peakDriftPct) ? troughDriftPct : peakDriftPct,
    troughDriftPct,
    peakDriftPct,
    rangePct: pct(Math.min(...warm), Math.max(...warm)),
  }
}

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
    return { path, seconds, requests: run.requests, errors: run.errors, samples, ...rssTrend(samples) }
  } finally {
    clearInterval(timer)
    await t.dispatcher.destroy()
  }
}
