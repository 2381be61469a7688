/**
 * Paired windows: this build's gateway path and the `--compare` build's same path, each
 * measured alone in short alternating windows (A B, B A, A B, …), CPU per request from /proc.
 * Side by side (side-by-side.ts) runs every process at once on the proxy core, so each runs
 * at a fraction of its throughput and switches with the others constantly: a change whose
 * gain is locality (code and data staying in the core's caches) does not show there. Here
 * each window has the core to itself, and neighbouring windows see the same machine, so the
 * count of pairs in which this build was cheaper is a sign test that survives a noisy machine.
 */
import { closedLoop } from './load.js'
import type { BodyKind, PathId, PathSetup } from './paths.js'
import { cpuMicros } from './procs.js'
import { median } from './report.js'
import type { SideBySideSample } from './side-by-side.js'

/** One window: what a side-by-side round records per path, numbered by its pair. */
export type PairSample = Omit<SideBySideSample, 'round' | 'firstProblem'> & { pair: number }

/** One window of one path: a short warm-up, then `ms` of closed loop. */
async function window(pair: number, id: PathId, setup: PathSetup, body: BodyKind, users: number, ms: number): Promise<PairSample> {
  const pid = setup.proxy?.pid
  if (pid === undefined) throw new Error(`paired windows need a proxy process: ${id}`)
  const t = setup.target(body, users)
  try {
    await closedLoop(t, users, 300)
    const before = cpuMicros(pid)
    const r = await closedLoop(t, users, ms)
    const cpu = cpuMicros(pid) - before
    const non200 = Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0)
    return { pair, path: id, body, requests: r.requests, cpuUsPerReq: r.requests === 0 ? NaN : cpu / r.requests, errors: r.errors, mismatches: r.mismatches, non200 }
  } finally {
    await t.dispatcher.destroy()
  }
}

/** `pairs` pairs of windows of `mine` and `theirs`, the order alternating so neither always goes first. */
export async function pairedWindows(pairs: number, body: BodyKind, mine: { id: PathId; setup: PathSetup }, theirs: { id: PathId; setup: PathSetup }, users: number, ms: number): Promise<PairSample[]> {
  const out: PairSample[] = []
  for (let pair = 1; pair <= pairs; pair++) {
    const order = pair % 2 === 1 ? [mine, theirs] : [theirs, mine]
    for (const p of order) out.push(await window(pair, p.id, p.setup, body, users, ms))
  }
  return out
}

/** One compared path over its pairs. */
export interface PairRow {
  path: PathId
  body: BodyKind
  pairs: number
  /** Medians over the pairs' windows, µs of CPU per request. */
  mineUs: number
  theirsUs: number
  /** Median of the per-pair ratios mine / theirs. */
  ratio: number
  /** Pairs in which this build used less CPU per request. */
  mineLower: number
  /** Failed requests, wrong answers and non-200 statuses of both builds' windows (a run with any fails). */
  errors: number
}

/** Pairs the samples of `path` with those of `path@before` (same pair number and body; ids without their node part). */
export function summarizePairs(samples: readonly PairSample[]): PairRow[] {
  const rows: PairRow[] = []
  const keys = [...new Set(samples.filter((s) => !s.path.includes('@before')).map((s) => `${s.body}\u0000${s.path}`))]
  for (const key of keys) {
    const [body, path] = key.split('\u0000') as [BodyKind, PathId]
    const theirsId = `${path}@before`
    const mine = samples.filter((s) => s.path === path && s.body === body)
    const both = mine.flatMap((m) => {
      const t = samples.find((s) => s.path === theirsId && s.body === body && s.pair === m.pair)
      return t ? [{ m, t }] : []
    })
    if (both.length === 0) continue
    rows.push({
      path,
      body,
      pairs: both.length,
      mineUs: median(both.map((x) => x.m.cpuUsPerReq)),
      theirsUs: median(both.map((x) => x.t.cpuUsPerReq)),
      ratio: median(both.map((x) => x.m.cpuUsPerReq / x.t.cpuUsPerReq)),
      mineLower: both.filter((x) => x.m.cpuUsPerReq < x.t.cpuUsPerReq).length,
      errors: both.reduce((n, x) => n + x.m.errors + x.m.mismatches + x.m.non200 + x.t.errors + x.t.mismatches + x.t.non200, 0),
    })
  }
  return rows
}

/** The paired-windows table. */
export function pairsMarkdown(rows: readonly PairRow[]): string {
  const lines = ['| path | body | this build µs/req | the other build µs/req | this / other (median of pairs) | pairs where this build is lower |', '|---|---|--:|--:|--:|--:|']
  for (const r of rows) lines.push(`| ${r.path} | ${r.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${r.mineUs.toFixed(0)} | ${r.theirsUs.toFixed(0)} | ${r.ratio.toFixed(3)} | ${r.mineLower} of ${r.pairs} |`)
  return lines.join('\n') + '\n'
}
