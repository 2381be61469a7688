/**
 * Medians over rounds, ratios to nginx and to direct, the issue's targets, and the
 * markdown table (printed, and kept in docs/performance.md by hand).
 */
import type { Sample } from './measure.js'
import type { SideBySideSample } from './side-by-side.js'
import type { MintResult } from './mint.js'
import type { SoakResult } from './soak.js'
import type { FloorPairRow, LatencyPairRow } from './pairs.js'
import { labelOf, type BodyKind, type PathId } from './paths.js'

/** A (path, body) summarised over its rounds: the sample's figures (medians), plus ratios. */
export interface Row extends Omit<Sample, 'round' | 'statuses' | 'firstError' | 'firstMismatch'> {
  label: string
  rounds: number
  non200: number
  rpsVsNginx: number
  rpsVsDirect: number
  cpuVsNginx: number | null
  /** CPU per request against the minimal undici forwarder's (the floor), same body. */
  cpuVsFloor: number | null
  /** Paced p50 minus the direct path's paced p50 (same body). */
  addedPacedP50Ms: number
  peakRssMiB: number | null
}

export interface Target {
  name: string
  goal: string
  value: string
  met: boolean
}

/** Samples from results written before a field existed have none: null, not NaN. */
const nullIfNaN = (x: number): number | null => (Number.isNaN(x) ? null : x)

/** The median (NaN for none). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2
}

/** One row per (path, body) with medians over rounds, paths in the order given. */
export function summarize(samples: readonly Sample[], peakRss: Partial<Record<PathId, number>>, paths: readonly PathId[]): Row[] {
  const rows: Row[] = []
  for (const body of ['empty', '64k'] as const) {
    const of = (path: PathId): Sample[] => samples.filter((s) => s.path === path && s.body === body)
    const med = (path: PathId, f: (s: Sample) => number | null): number => median(of(path).flatMap((s) => (f(s) === null ? [] : [f(s) as number])))
    for (const name of paths) {
      const label = labelOf(name)
      const mine = of(name)
      if (mine.length === 0) continue
      const cpu = mine[0]?.cpuUsPerReq === null ? null : med(name, (s) => s.cpuUsPerReq)
      const nginxCpu = med('nginx', (s) => s.cpuUsPerReq)
      const floorCpu = med('undici_forwarder', (s) => s.cpuUsPerReq)
      const rps = med(name, (s) => s.rps)
      rows.push({
        path: name,
        label,
        body,
        rounds: mine.length,
        rps,
        p50Ms: med(name, (s) => s.p50Ms),
        p99Ms: med(name, (s) => s.p99Ms),
        pacedP50Ms: med(name, (s) => s.pacedP50Ms),
        pacedP99Ms: med(name, (s) => s.pacedP99Ms),
        pacedRps: med(name, (s) => s.pacedRps),
        cpuUsPerReq: cpu,
        mainCpuUsPerReq: cpu === null ? null : nullIfNaN(med(name, (s) => s.mainCpuUsPerReq ?? null)),
        // Worst round, not the median: any new upstream handshake after warm-up is a finding.
        handshakesPer1k: Math.max(...mine.map((s) => s.handshakesPer1k)),
        replacedPer1k: Math.max(...mine.map((s) => s.replacedPer1k)),
        poolSize: Math.max(...mine.map((s) => s.poolSize)),
        poolGrowth: Math.max(...mine.map((s) => s.poolGrowth)),
        settleMs: Math.max(...mine.map((s) => s.settleMs)),
        requests: mine.reduce((n, s) => n + s.requests, 0),
        non200: mine.reduce((n, s) => n + Object.entries(s.statuses).reduce((m, [k, v]) => m + (k === '200' ? 0 : v), 0), 0),
        errors: mine.reduce((n, s) => n + s.errors, 0),
        mismatches: mine.reduce((n, s) => n + s.mismatches, 0),
        rpsVsNginx: rps / med('nginx', (s) => s.rps),
        rpsVsDirect: rps / med('direct', (s) => s.rps),
        cpuVsNginx: cpu === null ? null : cpu / nginxCpu,
        cpuVsFloor: cpu === null ? null : cpu / floorCpu,
        addedPacedP50Ms: med(name, (s) => s.pacedP50Ms) - med('direct', (s) => s.pacedP50Ms),
        peakRssMiB: peakRss[name] === undefined ? null : (peakRss[name] as number) / 1048576,
      })
    }
  }
  return rows
}

/** One path and body of the side-by-side phase over its rounds. */
export interface SideRow {
  path: PathId
  label: string
  body: BodyKind
  rounds: number
  /** Median over rounds of the CPU per request. */
  cpuUsPerReq: number
  /** Median over rounds of the round's ratio to the floor (each round's own floor figure). */
  cpuVsFloor: number | null
  perRound: number[]
  requests: number
  errors: number
  mismatches: number
  non200: number
}

/** Medians of the side-by-side rounds; a ratio is taken within each round, then the median of those. */
export function summarizeSide(samples: readonly SideBySideSample[]): SideRow[] {
  const out: SideRow[] = []
  const keys = [...new Set(samples.map((s) => `${s.body}\u0000${s.path}`))]
  for (const key of keys) {
    const [body, path] = key.split('\u0000') as [BodyKind, PathId]
    const mine = samples.filter((s) => s.path === path && s.body === body)
    const ratios = mine.flatMap((s) => {
      const floor = samples.find((f) => f.round === s.round && f.body === body && f.path === 'undici_forwarder')
      return floor && path !== 'undici_forwarder' ? [s.cpuUsPerReq / floor.cpuUsPerReq] : []
    })
    out.push({
      path,
      label: labelOf(path),
      body,
      rounds: mine.length,
      cpuUsPerReq: median(mine.map((s) => s.cpuUsPerReq)),
      cpuVsFloor: ratios.length > 0 ? median(ratios) : path === 'undici_forwarder' ? 1 : null,
      perRound: mine.map((s) => s.cpuUsPerReq),
      requests: mine.reduce((n, s) => n + s.requests, 0),
      errors: mine.reduce((n, s) => n + s.errors, 0),
      mismatches: mine.reduce((n, s) => n + s.mismatches, 0),
      non200: mine.reduce((n, s) => n + s.non200, 0),
    })
  }
  return out
}

/** The side-by-side table. */
export function sideMarkdown(rows: readonly SideRow[]): string {
  const lines = ['| path | body | proxy CPU µs/req | vs floor | rounds (µs/req) | requests |', '|---|---|--:|--:|---|--:|']
  for (const r of rows) lines.push(`| ${r.label} | ${r.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${r.cpuUsPerReq.toFixed(0)} | ${r.cpuVsFloor === null ? '—' : `${r.cpuVsFloor.toFixed(2)} ×`} | ${r.perRound.map((x) => x.toFixed(0)).join(' / ')} | ${r.requests} |`)
  return lines.join('\n') + '\n'
}

/**
 * The issue's targets, checked against this run's rows. Where paired windows against the floor
 * ran (`--floor-pairs`), the CPU ratios come from them (a ratio within each pair, then the
 * median), with the rounds' ratio beside it: rounds seconds apart on a noisy machine can move a
 * ratio by half. Likewise the added latency, from paced windows taken in turn (`--latency-pairs`).
 */
export function checkTargets(rows: readonly Row[], mint: MintResult | undefined, rss: { label: string; driftPct: number } | undefined, floorPairs: readonly FloorPairRow[] = [], latencyPairs: readonly LatencyPairRow[] = []): Target[] {
  const row = (path: PathId, body: BodyKind): Row | undefined => rows.find((r) => r.path === path && r.body === body)
  const paired = (path: PathId, body: BodyKind): FloorPairRow | undefined => floorPairs.find((r) => r.path === path && r.body === body)
  const within = (xs: readonly number[], goal: number): string => `${xs.filter((x) => x <= goal).length} of ${xs.length} pairs ≤ ${goal} ×`
  const out: Target[] = []
  const real = row('gateway_realistic', 'empty')
  const pct = (x: number): string => `${(x * 100).toFixed(0)} %`
  if (real && row('nginx', 'empty')) {
    out.push({ name: 'realistic req/s vs nginx', goal: '≥ 60 %', value: pct(real.rpsVsNginx), met: real.rpsVsNginx >= 0.6 })
    if (real.cpuVsNginx !== null) out.push({ name: 'realistic CPU/request vs nginx', goal: '≤ 2.5 ×', value: `${real.cpuVsNginx.toFixed(2)} ×`, met: real.cpuVsNginx <= 2.5 })
  }
  // Issue 21: the gateway's own cost above what any Node gateway pays (the undici forwarder).
  for (const [path, goal] of [['gateway_realistic', 1.6], ['gateway_mtls', 1.2], ['gateway_connect', 1.8]] as const) {
    const r = row(path, 'empty')
    const rounds = r?.cpuVsFloor == null || Number.isNaN(r.cpuVsFloor) ? undefined : r.cpuVsFloor
    const p = paired(path, 'empty')
    const name = `${path} CPU/request vs the floor (undici forwarder)`
    if (p) out.push({ name: `${name}, paired windows`, goal: `≤ ${goal} ×`, value: `${p.vsFloor.toFixed(2)} × (${within(p.perPair, goal)}${rounds === undefined ? '' : `; rounds: ${rounds.toFixed(2)} ×`})`, met: p.vsFloor <= goal })
    else if (rounds !== undefined) out.push({ name, goal: `≤ ${goal} ×`, value: `${rounds.toFixed(2)} ×`, met: rounds <= goal })
  }
  const latency = latencyPairs.find((r) => r.path === 'gateway_realistic')
  const roundsAdded = real && row('direct', 'empty') ? real.addedPacedP50Ms : undefined
  if (latency) {
    const mtls = latencyPairs.find((r) => r.path === 'gateway_mtls')
    const sets = `${latency.perPair.filter((x) => x <= 0.5).length} of ${latency.pairs} sets ≤ 0.5 ms; the floor adds ${latency.floorAddedMs.toFixed(2)} ms${mtls ? `, mTLS only ${mtls.addedMs.toFixed(2)} ms` : ''}`
    out.push({ name: 'realistic added p50 over direct (paced, 50 conns), paired windows', goal: '≤ 0.5 ms', value: `${latency.addedMs.toFixed(2)} ms (${sets}${roundsAdded === undefined ? '' : `; rounds: ${roundsAdded.toFixed(2)} ms`})`, met: latency.addedMs <= 0.5 })
  } else if (roundsAdded !== undefined) out.push({ name: 'realistic added p50 over direct (paced, 50 conns)', goal: '≤ 0.5 ms', value: `${roundsAdded.toFixed(2)} ms`, met: roundsAdded <= 0.5 })
  const [userSqlite, userRedis] = [row('gateway_user_sqlite', 'empty'), row('gateway_user_redis', 'empty')]
  if (userSqlite && userRedis) {
    // One store read per call: Redis's network round trip against SQLite's in-process read.
    const ratio = userRedis.rps / userSqlite.rps
    out.push({ name: 'per-user path req/s, Redis vs SQLite', goal: '≥ 80 %', value: pct(ratio), met: ratio >= 0.8 })
  }
  for (const body of ['empty', '64k'] as const) {
    // The listener limits (timeouts, caps) on the realistic path against the same gateway with them off.
    const on = row('gateway_realistic', body)
    const off = row('gateway_limits_off', body)
    if (!on || !off || on.cpuUsPerReq === null || off.cpuUsPerReq === null) continue
    const cpu = on.cpuUsPerReq / off.cpuUsPerReq
    out.push({ name: `listener limits on vs off, realistic ${body === 'empty' ? 'GET' : 'POST 64 KiB'}: CPU/request (req/s ${pct(on.rps / off.rps)})`, goal: '≤ 1.05 ×', value: `${cpu.toFixed(2)} ×`, met: cpu <= 1.05 })
  }
  const gw = rows.filter((r) => r.path.startsWith('gateway') && !r.path.includes('@'))
  if (gw.length > 0) {
    const worst = Math.max(...gw.map((r) => r.handshakesPer1k))
    const replaced = Math.max(...gw.map((r) => r.replacedPer1k))
    const growth = Math.max(...gw.map((r) => r.poolGrowth))
    // The split says whether a handshake was the pool growing past the warm-up's size or churn.
    const split = worst === 0 ? '' : ` (connections replaced: ${replaced.toFixed(2)}; largest pool growth: ${growth})`
    out.push({ name: 'new upstream handshakes per 1,000 after warm-up (gateway paths, worst round)', goal: '0', value: worst.toFixed(2) + split, met: worst === 0 })
  }
  if (mint) {
    out.push({ name: 'leaf minting p99, first connection', goal: '≤ 5 ms', value: `${mint.mintP99Ms.toFixed(2)} ms`, met: mint.mintP99Ms <= 5 })
    out.push({ name: 'leaves minted for cached hosts', goal: '0', value: String(mint.mintedOnCached), met: mint.mintedOnCached === 0 })
  }
  for (const [path, goal] of [['gateway_traced_1pct', 1.1], ['gateway_traced_100pct', 1.5]] as const) {
    const traced = row(path, 'empty')
    if (!real || !traced || real.cpuUsPerReq === null || traced.cpuUsPerReq === null) continue
    const ratio = traced.cpuUsPerReq / real.cpuUsPerReq
    out.push({ name: `${path}: CPU/request vs tracing off (realistic)`, goal: `≤ ${goal} ×`, value: `${ratio.toFixed(2)} × (req/s ${pct(traced.rps / real.rps)})`, met: ratio <= goal })
  }
  if (rss) out.push({ name: `RSS drift (${rss.label})`, goal: '± 10 %', value: `${rss.driftPct >= 0 ? '+' : ''}${rss.driftPct.toFixed(1)} %`, met: Math.abs(rss.driftPct) <= 10 })
  for (const r of gw.filter((x) => x.body === '64k')) {
    const empty = row(r.path, 'empty')
    if (!empty || r.cpuUsPerReq === null || empty.cpuUsPerReq === null) continue
    const ratio = r.cpuUsPerReq / empty.cpuUsPerReq
    const p = paired(r.path, '64k')
    if (p?.vsEmpty !== undefined) {
      const floor = p.floorVsEmpty === undefined ? '' : `; the floor's own: ${p.floorVsEmpty.toFixed(2)} ×`
      const drift = p.hostDrift === undefined ? '' : `; host drift between the empty and 64 KiB sets ${p.hostDrift.toFixed(2)} ×, divided out (uncorrected: ${p.uncorrectedVsEmpty?.toFixed(2) ?? '—'} ×)`
      out.push({ name: `${r.path}: 64 KiB body CPU vs empty, paired windows`, goal: '≤ 2 ×', value: `${p.vsEmpty.toFixed(2)} × (${within(p.perPairVsEmpty ?? [], 2)}${floor}${drift}; rounds: ${ratio.toFixed(2)} ×)`, met: p.vsEmpty <= 2 })
    } else out.push({ name: `${r.path}: 64 KiB body CPU vs empty`, goal: '≤ 2 ×', value: `${ratio.toFixed(2)} ×`, met: ratio <= 2 })
  }
  return out
}

const f = (x: number | null, digits = 0): string => (x === null || Number.isNaN(x) ? '—' : x.toFixed(digits))

const ratio = (x: number | null): string => (x === null || Number.isNaN(x) ? '—' : `${x.toFixed(2)} ×`)

/** The results table, the targets and the interception figures as markdown. */
export function markdown(rows: readonly Row[], targets: readonly Target[], mint: MintResult | undefined, o: { users: number; rate: number; machine: string; soak?: SoakResult }): string {
  const lines = [
    `Machine: ${o.machine}`,
    '',
    `| path | body | req/s | p50 / p99 ms (${o.users} conns, closed loop) | p50 / p99 ms (paced ${o.rate} req/s) | proxy CPU µs/req | req/s vs nginx | req/s vs direct | CPU vs nginx | CPU vs floor | upstream handshakes /1k | proxy peak RSS MiB |`,
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${f(r.rps)} | ${f(r.p50Ms, 2)} / ${f(r.p99Ms, 2)} | ${f(r.pacedP50Ms, 2)} / ${f(r.pacedP99Ms, 2)} | ${f(r.cpuUsPerReq)} | ${f(r.rpsVsNginx * 100)} % | ${f(r.rpsVsDirect * 100)} % | ${ratio(r.cpuVsNginx)} | ${ratio(r.cpuVsFloor)} | ${f(r.handshakesPer1k, 2)} | ${f(r.peakRssMiB)} |`,
    )
  }
  if (mint) {
    lines.push('', `Interception CA (${mint.hosts} hosts): leaf minting p50 ${f(mint.mintP50Ms, 2)} ms, p99 ${f(mint.mintP99Ms, 2)} ms (max ${f(mint.mintMaxMs, 2)}); CONNECT + TLS handshake, first connection p50 ${f(mint.firstConnP50Ms, 2)} / p99 ${f(mint.firstConnP99Ms, 2)} ms, cached p50 ${f(mint.cachedConnP50Ms, 2)} / p99 ${f(mint.cachedConnP99Ms, 2)} ms; minted for cached hosts: ${mint.mintedOnCached}.`)
  }
  if (o.soak) {
    const mib = (b: number): string => (b / 1048576).toFixed(0)
    const after = o.soak.samples.filter((x) => x.t > 10).map((x) => x.rss)
    lines.push('', `Soak (${o.soak.path}, ${o.soak.seconds} s, ${o.soak.requests} requests, ${o.soak.errors} errors): RSS ${mib(Math.min(...after))}–${mib(Math.max(...after))} MiB after the first 10 s; last third against the first: troughs ${o.soak.troughDriftPct.toFixed(1)} %, peaks ${o.soak.peakDriftPct.toFixed(1)} %.`)
  }
  if (targets.length > 0) {
    lines.push('', '| target | goal | this run | met |', '|---|---|---|---|')
    for (const t of targets) lines.push(`| ${t.name} | ${t.goal} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`)
  }
  const costs = bodyCosts(rows)
  if (costs.length > 0) lines.push('', bodyCostMarkdown(costs).trimEnd())
  return lines.join('\n') + '\n'
}

/** What a 64 KiB body adds to one path's CPU per request (medians over rounds). */
export interface BodyCost {
  label: string
  emptyUs: number
  bodyUs: number
  /** 64 KiB minus empty. */
  addedUs: number
  /** 64 KiB over empty: the issue's "≤ 2 × its empty" figure. */
  vsEmpty: number
  /** addedUs over the floor's addedUs in the same run (null without the floor). */
  addedVsFloor: number | null
}

/** What bodyCosts reads of a row (bench/instructions.ts passes instruction counts in cpuUsPerReq). */
export type BodyCostInput = Pick<Row, 'path' | 'label' | 'body' | 'cpuUsPerReq'>

/**
 * Every path measured with both bodies, the floor first. The 64 KiB-over-empty ratio of a path
 * is at least the floor's own unless the path moves body bytes more cheaply than the floor's
 * plain pipe does: printing the floor's ratio and each path's added cost beside it says which.
 */
export function bodyCosts(rows: readonly BodyCostInput[]): BodyCost[] {
  const cpu = (r: BodyCostInput | undefined): number | null => (r?.cpuUsPerReq == null || Number.isNaN(r.cpuUsPerReq) ? null : r.cpuUsPerReq)
  const costOf = (path: PathId): Omit<BodyCost, 'addedVsFloor'> | undefined => {
    const empty = cpu(rows.find((r) => r.path === path && r.body === 'empty'))
    const body = rows.find((r) => r.path === path && r.body === '64k')
    const bodyUs = cpu(body)
    if (empty === null || bodyUs === null || empty <= 0 || !body) return undefined
    return { label: body.label, emptyUs: empty, bodyUs, addedUs: bodyUs - empty, vsEmpty: bodyUs / empty }
  }
  const floor = costOf('undici_forwarder')
  const paths = [...new Set(rows.map((r) => r.path))].sort((a, b) => Number(b === 'undici_forwarder') - Number(a === 'undici_forwarder'))
  const out: BodyCost[] = []
  for (const path of paths) {
    const c = costOf(path)
    if (c) out.push({ ...c, addedVsFloor: floor && floor.addedUs > 0 ? c.addedUs / floor.addedUs : null })
  }
  return out
}

/** The body-cost table. */
export function bodyCostMarkdown(costs: readonly BodyCost[], unit = 'proxy CPU µs/request, medians over rounds'): string {
  const lines = [
    `What a 64 KiB body adds (${unit}):`,
    '',
    '| path | GET, empty | POST 64 KiB | added by the body | 64 KiB vs empty | added vs the floor\'s added |',
    '|---|--:|--:|--:|--:|--:|',
  ]
  for (const c of costs) lines.push(`| ${c.label} | ${c.emptyUs.toFixed(0)} | ${c.bodyUs.toFixed(0)} | ${c.addedUs.toFixed(0)} | ${c.vsEmpty.toFixed(2)} × | ${ratio(c.addedVsFloor)} |`)
  return lines.join('\n') + '\n'
}
