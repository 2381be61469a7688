/**
 * Paired windows: processes measured one at a time in short windows taken in turn (A B, B A,
 * A B, …), CPU per request from /proc. Two uses:
 *
 * - `--compare --pairs`: this build's gateway path against the other build's same path.
 * - `--floor-pairs`: a gateway path against the floor (the undici forwarder), each with both
 *   bodies, for the ratios (CPU against the floor, 64 KiB against empty).
 * - `--latency-pairs`: paced windows of the direct path, the floor and the realistic path, for
 *   the latency the gateway adds (paced p50 over direct's).
 *
 * Side by side (side-by-side.ts) runs every process at once on the proxy core, so each runs
 * at a fraction of its throughput and switches with the others constantly: a change whose
 * gain is locality (code and data staying in the core's caches) does not show there. Here
 * each window has the core to itself, and neighbouring windows see the same machine, so a
 * ratio taken within each pair, and the count of pairs on one side of a line, survive a noisy
 * machine where medians over whole rounds (seconds apart) do not.
 */
import { closedLoop, paced, quantile } from './load.js'
import type { BodyKind, PathId, PathSetup } from './paths.js'
import { cpuMicros } from './procs.js'
import { median } from './report.js'
import type { SideBySideSample } from './side-by-side.js'

/**
 * One window: what a side-by-side round records per path, numbered by its pair. `group` names
 * the set of windows taken in turn (a floor pair's gateway path), so a path measured in
 * several sets (the floor) is matched only within its own.
 */
export type PairSample = Omit<SideBySideSample, 'round' | 'firstProblem'> & {
  pair: number
  group?: string
  pacedP50Ms?: number
  /** The window's place among the run's paired windows of its kind (from 1), in the order taken. */
  seq?: number
}

/** A paced window instead of a closed loop: `rate` requests/s for `ms`, its p50 recorded. */
export interface Pace {
  rate: number
  ms: number
}

/** One process, path and body taking its turn in each pair. */
export interface PairMember {
  id: PathId
  setup: PathSetup
  body: BodyKind
}

/**
 * One window of one path: a short warm-up, then `ms` of closed loop, or with `pace` a paced
 * phase. A paced window may have no proxy (the direct path): its CPU is then NaN.
 */
async function window(pair: number, id: PathId, setup: PathSetup, body: BodyKind, users: number, ms: number, pace?: Pace): Promise<PairSample> {
  const pid = setup.proxy?.pid
  if (pid === undefined && pace === undefined) throw new Error(`paired windows need a proxy process: ${id}`)
  const t = setup.target(body, users)
  try {
    await closedLoop(t, users, 300)
    const before = pid === undefined ? NaN : cpuMicros(pid)
    const r = pace ? await paced(t, users, pace.rate, pace.ms) : await closedLoop(t, users, ms)
    const cpu = pid === undefined ? NaN : cpuMicros(pid) - before
    const non200 = Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0)
    const sample: PairSample = { pair, path: id, body, requests: r.requests, cpuUsPerReq: r.requests === 0 ? NaN : cpu / r.requests, errors: r.errors, mismatches: r.mismatches, non200 }
    if (pace) sample.pacedP50Ms = quantile(r.latencies, 0.5)
    return sample
  } finally {
    await t.dispatcher.destroy()
  }
}

/** The members' order in pair `pair` (from 1): rotated one further each pair, so each takes every place in turn (two alternate: A B, B A). */
export function pairOrder<T>(members: readonly T[], pair: number): T[] {
  const k = members.length
  return members.map((_, i) => members[(i + pair - 1) % k] as T)
}

/** A window's failed requests, wrong answers and non-200 statuses. */
const problems = (s: PairSample): number => s.errors + s.mismatches + s.non200

/** One set of a floor-pair group: that gateway path and the floor, one body, set number `pair`. */
export interface FloorPairSet<N, P> {
  node: N
  path: P
  body: BodyKind
  pair: number
}

/**
 * The floor-pair sets in the order they run, so that each window reads its process in steady
 * state:
 *
 * - Every empty-body set before any 64 KiB set. A 64 KiB window leaves its process
 *   collections to finish for seconds after (each body's buffers count as external memory,
 *   whose growth starts mark-compacts), and a gateway's larger heap makes them cost it more
 *   than the floor: an empty window after one paid for them (CONNECT on Node 24: up to 1.8 ×
 *   its cost, even after a 1 s settle; docs/performance.md, session 13). The floor and the
 *   production gateway serve several groups, so the order is global.
 * - Within a body and a node, the groups take turns set by set (set 1 of each path, then set
 *   2, …) rather than one group's sets all in a row: a process left idle while another
 *   group's ten sets ran was still slow for its own first sets (Node 24's realistic path read
 *   106–131 µs in its first four windows and 67–90 in the rest; session 13).
 */
export function floorPairPlan<N, P>(nodes: readonly N[], paths: readonly P[], bodies: readonly BodyKind[], pairs: number): FloorPairSet<N, P>[] {
  const order = [...bodies].sort((a, b) => (a === b ? 0 : a === 'empty' ? -1 : 1))
  const sets: FloorPairSet<N, P>[] = []
  for (const body of order) {
    for (const node of nodes) {
      for (let pair = 1; pair <= pairs; pair++) for (const path of paths) sets.push({ node, path, body, pair })
    }
  }
  return sets
}

/**
 * `pairs` sets of windows, one per member each, the order rotating so no member always goes
 * first. The sets are numbered from `firstPair` (default 1), the windows (`seq`) from
 * `firstSeq`, in the order taken.
 */
export async function pairedWindows(pairs: number, members: readonly PairMember[], users: number, ms: number, o: { group?: string; pace?: Pace; firstSeq?: number; firstPair?: number } = {}): Promise<PairSample[]> {
  const out: PairSample[] = []
  let seq = o.firstSeq ?? 1
  const first = o.firstPair ?? 1
  for (let pair = first; pair < first + pairs; pair++) {
    for (const m of pairOrder(members, pair)) {
      const s = await window(pair, m.id, m.setup, m.body, users, ms, o.pace)
      s.seq = seq++
      out.push(o.group === undefined ? s : Object.assign(s, { group: o.group }))
    }
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

/**
 * The tag of the second process set of this very build (`--aa`): paired with this build's like the
 * other build's, its ratio is what the pairing reads where there is no difference.
 */
export const SAME = '@same'

/**
 * Pairs the samples of `path` with those of `path<against>` (same pair number and body; ids
 * without their node part): `@before`, the other build (--compare), or SAME, this build again.
 */
export function summarizePairs(samples: readonly PairSample[], against = '@before'): PairRow[] {
  const rows: PairRow[] = []
  const keys = [...new Set(samples.filter((s) => !s.path.includes('@')).map((s) => `${s.body}\u0000${s.path}`))]
  for (const key of keys) {
    const [body, path] = key.split('\u0000') as [BodyKind, PathId]
    const theirsId = `${path}${against}`
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
      errors: both.reduce((n, x) => n + problems(x.m) + problems(x.t), 0),
    })
  }
  return rows
}

/** The paired-windows table. */
export function pairsMarkdown(rows: readonly PairRow[], other = 'the other build'): string {
  const lines = [`| path | body | this build µs/req | ${other} µs/req | this / other (median of pairs) | pairs where this build is lower |`, '|---|---|--:|--:|--:|--:|']
  for (const r of rows) lines.push(`| ${r.path} | ${r.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${r.mineUs.toFixed(0)} | ${r.theirsUs.toFixed(0)} | ${r.ratio.toFixed(3)} | ${r.mineLower} of ${r.pairs} |`)
  return lines.join('\n') + '\n'
}

/** The floor's path id. */
const FLOOR = 'undici_forwarder'

/**
 * The host-speed gauge of the floor-pair sets: a second floor process that only ever serves
 * empty bodies, one window after each set number of each body's sets. The 64 KiB sets run
 * minutes after the empty ones (floorPairPlan says why), and a shared host's speed can drift
 * by 2 × in that time; this process's own cost per request, in the same set number of the two
 * halves, says by how much. It never serves a 64 KiB body, so none of its windows pays for a
 * body's collections.
 */
export const FLOOR_PROBE = 'floor_probe'
/** The probe's window group in the sets of `body` (its own windows are always empty-body ones). */
export const probeGroup = (body: BodyKind): string => `${FLOOR_PROBE}:${body}`

/** One gateway path and body against the floor over the pairs of its group (`--floor-pairs`). */
export interface FloorPairRow {
  path: PathId
  body: BodyKind
  pairs: number
  /** Medians over the pairs' windows, µs of CPU per request. */
  gatewayUs: number
  floorUs: number
  /** Median of the per-pair ratios gateway / floor (same body, same pair). */
  vsFloor: number
  /** The per-pair ratios gateway / floor, in pair order. */
  perPair: number[]
  /**
   * 64 KiB rows: the median of the per-pair ratios of this path's 64 KiB window to its empty
   * window, and the same for the floor's own windows (what any Node gateway pays for the body).
   * When the probe ran, each pair's ratio is divided by the host's drift between the two
   * windows (hostDrift); uncorrectedVsEmpty keeps the plain figure.
   */
  vsEmpty?: number
  perPairVsEmpty?: number[]
  floorVsEmpty?: number
  /** The median over the pairs of the probe's cost in the 64 KiB set over its cost in the empty set of the same number (1: the host kept its speed). */
  hostDrift?: number
  uncorrectedVsEmpty?: number
  /** Failed requests, wrong answers and non-200 statuses of the row's windows and its floor's. */
  errors: number
}

/** Rows of the `--floor-pairs` windows: each gateway path's group set against the floor's windows of the same group and pair. */
export function summarizeFloorPairs(samples: readonly PairSample[]): FloorPairRow[] {
  const rows: FloorPairRow[] = []
  const find = (group: string, path: PathId, body: BodyKind, pair: number): PairSample | undefined => samples.find((s) => s.group === group && s.path === path && s.body === body && s.pair === pair)
  const keys = [...new Set(samples.filter((s) => s.group !== undefined && s.path !== FLOOR && s.path !== FLOOR_PROBE).map((s) => `${s.group as string}\u0000${s.body}`))]
  // Per set number: the probe's cost in the sets of `body` over its cost in the empty sets.
  const driftAt = (body: BodyKind, pair: number): number | undefined => {
    const then = find(probeGroup('empty'), FLOOR_PROBE, 'empty', pair)
    const now = find(probeGroup(body), FLOOR_PROBE, 'empty', pair)
    return then && now ? now.cpuUsPerReq / then.cpuUsPerReq : undefined
  }
  for (const key of keys) {
    const [path, body] = key.split('\u0000') as [PathId, BodyKind]
    const both = samples
      .filter((s) => s.group === path && s.path === path && s.body === body)
      .flatMap((g) => {
        const f = find(path, FLOOR, body, g.pair)
        return f ? [{ g, f, ge: find(path, path, 'empty', g.pair), fe: find(path, FLOOR, 'empty', g.pair) }] : []
      })
    if (both.length === 0) continue
    const perPair = both.map((x) => x.g.cpuUsPerReq / x.f.cpuUsPerReq)
    const row: FloorPairRow = {
      path,
      body,
      pairs: both.length,
      gatewayUs: median(both.map((x) => x.g.cpuUsPerReq)),
      floorUs: median(both.map((x) => x.f.cpuUsPerReq)),
      vsFloor: median(perPair),
      perPair,
      errors: both.reduce((n, x) => n + problems(x.g) + problems(x.f), 0),
    }
    if (body !== 'empty') Object.assign(row, vsEmptyOf(both, (pair) => driftAt(body, pair)))
    rows.push(row)
  }
  return rows
}

/**
 * A 64 KiB row's ratios to the empty windows of the same set number, the gateway's and the
 * floor's: each divided by the host's drift between the two when every pair has a probe
 * reading (a figure half corrected would mix two measures), else as taken.
 */
function vsEmptyOf(both: readonly { g: PairSample; f: PairSample; ge?: PairSample | undefined; fe?: PairSample | undefined }[], driftAt: (pair: number) => number | undefined): Partial<FloorPairRow> {
  const drifts = both.map((x) => driftAt(x.g.pair))
  const corrected = drifts.every((d) => d !== undefined)
  const per = (mine: (x: (typeof both)[number]) => PairSample, empty: (x: (typeof both)[number]) => PairSample | undefined): number[] =>
    both.flatMap((x, i) => {
      const e = empty(x)
      return e ? [mine(x).cpuUsPerReq / e.cpuUsPerReq / (corrected ? (drifts[i] as number) : 1)] : []
    })
  const own = per((x) => x.g, (x) => x.ge)
  const floor = per((x) => x.f, (x) => x.fe)
  const out: Partial<FloorPairRow> = {}
  if (own.length > 0) {
    out.vsEmpty = median(own)
    out.perPairVsEmpty = own
  }
  if (floor.length > 0) out.floorVsEmpty = median(floor)
  if (corrected && both.length > 0) {
    out.hostDrift = median(drifts as number[])
    const plain = both.flatMap((x) => (x.ge ? [x.g.cpuUsPerReq / x.ge.cpuUsPerReq] : []))
    if (plain.length > 0) out.uncorrectedVsEmpty = median(plain)
  }
  return out
}

/** The floor-pairs table. */
export function floorPairsMarkdown(rows: readonly FloorPairRow[]): string {
  const lines = ['| path | body | gateway µs/req | floor µs/req | gateway / floor (median of pairs) | per pair | 64 KiB / empty, gateway | 64 KiB / empty, floor | host drift (probe) | 64 KiB / empty, gateway, uncorrected |', '|---|---|--:|--:|--:|---|--:|--:|--:|--:|']
  const x = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(2)} ×`)
  for (const r of rows) lines.push(`| ${r.path} | ${r.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${r.gatewayUs.toFixed(0)} | ${r.floorUs.toFixed(0)} | ${x(r.vsFloor)} | ${r.perPair.map((v) => v.toFixed(2)).join(' ')} | ${x(r.vsEmpty)} | ${x(r.floorVsEmpty)} | ${x(r.hostDrift)} | ${x(r.uncorrectedVsEmpty)} |`)
  return lines.join('\n') + '\n'
}

/** The realistic path's added latency over the direct path, from paced windows taken in turn (`--latency-pairs`). */
export interface LatencyPairRow {
  path: PathId
  pairs: number
  /** Medians over the sets' windows, ms: the direct path's paced p50, and what the floor and the path add to it. */
  directP50Ms: number
  floorAddedMs: number
  addedMs: number
  /** Per set: the path's paced p50 minus the direct path's of the same set. */
  perPair: number[]
  errors: number
}

/** Rows of the latency sets: each window's p50 against the direct path's window of the same set. */
export function summarizeLatencyPairs(samples: readonly PairSample[]): LatencyPairRow[] {
  const rows: LatencyPairRow[] = []
  const p50 = (s: PairSample | undefined): number => s?.pacedP50Ms ?? NaN
  for (const path of [...new Set(samples.filter((s) => s.path !== 'direct' && s.path !== FLOOR).map((s) => s.path))]) {
    const sets = samples
      .filter((s) => s.path === path)
      .flatMap((g) => {
        const direct = samples.find((s) => s.path === 'direct' && s.pair === g.pair)
        const floor = samples.find((s) => s.path === FLOOR && s.pair === g.pair)
        return direct ? [{ g, direct, floor }] : []
      })
    if (sets.length === 0) continue
    const perPair = sets.map((x) => p50(x.g) - p50(x.direct))
    rows.push({
      path,
      pairs: sets.length,
      directP50Ms: median(sets.map((x) => p50(x.direct))),
      floorAddedMs: median(sets.flatMap((x) => (x.floor ? [p50(x.floor) - p50(x.direct)] : []))),
      addedMs: median(perPair),
      perPair,
      errors: sets.reduce((n, x) => n + problems(x.g) + problems(x.direct) + (x.floor ? problems(x.floor) : 0), 0),
    })
  }
  return rows
}

/** The latency-sets table. */
export function latencyPairsMarkdown(rows: readonly LatencyPairRow[]): string {
  const lines = ['| path | direct paced p50 ms | added by the floor ms | added by the path ms (median of sets) | per set |', '|---|--:|--:|--:|---|']
  for (const r of rows) lines.push(`| ${r.path} | ${r.directP50Ms.toFixed(2)} | ${r.floorAddedMs.toFixed(2)} | ${r.addedMs.toFixed(2)} | ${r.perPair.map((v) => v.toFixed(2)).join(' ')} |`)
  return lines.join('\n') + '\n'
}
