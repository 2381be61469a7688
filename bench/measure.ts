/**
 * One measurement of one path: warm up (connections, JIT), then a closed-loop phase
 * (req/s, latency at saturation, CPU per request of the proxy process) and a paced phase
 * (latency at a fixed offered rate). Upstream handshakes are counted on the upstream
 * (nginx stub_status "accepts") between the end of warm-up and the end of the paced phase.
 * The warm-up lasts until the proxy's upstream pool has stopped growing, and the proxy's own
 * upstream connections are counted at both ends, so a handshake after warm-up can be read as
 * the pool growing further or as a connection replaced.
 */
import { get } from 'node:http'
import { closedLoop, paced, quantile, type LoadResult, type Target } from './load.js'
import { PROFILED_PATHS, type BodyKind, type PathId, type PathName, type PathSetup } from './paths.js'
import { cpuMicros } from './procs.js'
import { warmUntilSettled, type SettleOptions, type WarmUp } from './warm-up.js'
import { upstreamConnections } from './upstream-sockets.js'

/** The upstream's ports: TLS (the proxies' pools connect here) and stub_status. */
export interface UpstreamPorts {
  port: number
  statusPort: number
}

/** The warm-up goes on in slices of this length while the upstream still accepts new connections… */
const SETTLE_SLICE_MS = 250
/** …for at most this long. */
const SETTLE_MAX_MS = 2500

export interface MeasureOptions {
  users: number
  warmupMs: number
  durationMs: number
  pacedMs: number
  /** Offered rate of the paced phase, requests/s over all users. */
  rate: number
}

/** The figures of one (path, body) measurement in one round. */
export interface Sample {
  round: number
  path: PathId
  body: BodyKind
  rps: number
  p50Ms: number
  p99Ms: number
  pacedP50Ms: number
  pacedP99Ms: number
  pacedRps: number
  /** CPU of the proxy process per request of the closed-loop phase (null: direct, no proxy). */
  cpuUsPerReq: number | null
  /** Of that, its main thread's (what a CPU profile samples; the stage table is scaled to it). */
  mainCpuUsPerReq: number | null
  /** New upstream connections (= TLS handshakes, full or resumed) per 1,000 requests after warm-up. */
  handshakesPer1k: number
  /** Of those, the ones not explained by the proxy's pool growing: connections replaced, per 1,000. */
  replacedPer1k: number
  /** The proxy's established upstream connections at the end of the measurement… */
  poolSize: number
  /** …minus those at the end of the warm-up. */
  poolGrowth: number
  /** How much the warm-up was extended until the pool stopped growing, ms. */
  settleMs: number
  requests: number
  statuses: Record<string, number>
  errors: number
  mismatches: number
  firstError?: string
  firstMismatch?: string
}

/** nginx stub_status "accepts" of the upstream, on a connection of its own. */
export function upstreamAccepts(statusPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: statusPort, path: '/status', agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => {
        const m = /server accepts handled requests\s+(\d+)/.exec(text)
        if (!m) return reject(new Error(`unexpected stub_status answer: ${text}`))
        resolve(Number(m[1]))
      })
    }).on('error', reject)
  })
}

function merge(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
}

/**
 * Goes on warming up while the upstream still accepts new connections (a pool that has not
 * yet met the load's concurrency), slice by slice, for at most SETTLE_MAX_MS; returns the
 * upstream's accept count at the end and the extra phases (their statuses count).
 */
async function settlePool(t: Target, users: number, statusPort: number): Promise<{ accepts: number; phases: LoadResult[] }> {
  const phases: LoadResult[] = []
  let accepts = await upstreamAccepts(statusPort)
  for (let spent = 0; spent < SETTLE_MAX_MS; spent += SETTLE_SLICE_MS) {
    phases.push(await closedLoop(t, users, SETTLE_SLICE_MS))
    const now = await upstreamAccepts(statusPort)
    const opened = now - accepts - 1 // the status request's own connection
    accepts = now
    if (opened <= 0) break
  }
  return { accepts, phases }
}

/** Drives a path unmeasured (JIT, pools, leaf cache), once before the rounds. */
export async function prewarm(setup: PathSetup, body: BodyKind, users: number, ms: number): Promise<void> {
  const t = setup.target(body, users)
  try {
    await closedLoop(t, users, ms)
  } finally {
    await t.dispatcher.destroy()
  }
}

/** The fresh dispatcher's warm-up inside eachProfiledWindow: long enough for every user to have its connection. */
const OPEN_BEFORE_WINDOW_MS = 300

/** What a profiling window gets: its path and body, the proxy's pid and a fresh target. */
export interface ProfiledWindow {
  path: PathName
  body: BodyKind
  setup: PathSetup
  pid: number
  target: Target
  /** How the process was warmed, when the young generation was watched (profiled processes). */
  warm?: WarmUp
}

/** Warm-up before each window on processes that served the rounds: they are warm already. */
export const WARM_PROCESS_MS = 300
/**
 * Warm-up before each window on a process started for the profile: with 300 ms, the window was
 * the process's first seconds (modules still compiling, the optimizing compiler busy) and its main
 * thread read 1.5–2.5 × the rounds' figure, the floor's included; after 5 s the floor read 1.0 ×.
 */
export const FRESH_PROCESS_MS = 3000

/**
 * The profiles' windows (stage table, allocation table, perf split): each of PROFILED_PATHS that
 * is in `paths` and has a proxy in `setups`, each body, warmed for `warmMs`, then driven by
 * `window` with a fresh dispatcher (its connections opened first, closed after); the windows' results in order, those that gave
 * none left out.
 */
export async function eachProfiledWindow<T>(setups: Partial<Record<PathName, PathSetup>>, paths: readonly PathName[], bodies: readonly BodyKind[], users: number, warmMs: number, window: (w: ProfiledWindow) => Promise<T | undefined>, settle?: SettleOptions): Promise<T[]> {
  const results: T[] = []
  for (const path of PROFILED_PATHS.filter((x) => paths.includes(x))) {
    const setup = setups[path]
    const pid = setup?.proxy?.pid
    if (!setup || pid === undefined) continue
    for (const body of bodies) {
      const warm = settle && setup.proxy ? await warmUntilSettled(setup, setup.proxy.output, body, users, warmMs, settle.maxMs) : (await prewarm(setup, body, users, warmMs), undefined)
      const target = setup.target(body, users)
      try {
        // Its connections opened before the window, as the rounds' and the paired windows' are: a fresh CONNECT dispatcher
        // otherwise set up all its tunnels (CONNECT, the caller's TLS handshake) inside the profile (docs/performance.md, session 48).
        await closedLoop(target, users, OPEN_BEFORE_WINDOW_MS)
        const got = await window({ path, body, setup, pid, target, ...(warm ? { warm } : {}) })
        if (got !== undefined) results.push(got)
      } finally {
        await target.dispatcher.destroy()
      }
    }
  }
  return results
}

/** Runs the phases against a fresh dispatcher and closes it. */
export async function measure(round: number, path: PathId, body: BodyKind, setup: PathSetup, upstream: UpstreamPorts, o: MeasureOptions): Promise<Sample> {
  const t = setup.target(body, o.users)
  const pid = setup.proxy?.pid
  // The direct path's pool is the load generator's own, in this process.
  const poolPid = pid ?? process.pid
  try {
    const warm = await closedLoop(t, o.users, o.warmupMs)
    const settle = await settlePool(t, o.users, upstream.statusPort)
    const accepts0 = settle.accepts
    const pool0 = upstreamConnections(poolPid, upstream.port)
    const [cpu0, main0] = pid === undefined ? [0, 0] : [cpuMicros(pid), cpuMicros(pid, true)]
    const run = await closedLoop(t, o.users, o.durationMs)
    const [cpu1, main1] = pid === undefined ? [0, 0] : [cpuMicros(pid), cpuMicros(pid, true)]
    const slow = await paced(t, o.users, o.rate, o.pacedMs)
    const poolSize = upstreamConnections(poolPid, upstream.port)
    const poolGrowth = poolSize - pool0
    // Every status request is itself one accepted connection.
    const newConnections = (await upstreamAccepts(upstream.statusPort)) - accepts0 - 1
    const counted = run.requests + slow.requests
    const phases: LoadResult[] = [warm, ...settle.phases, run, slow]
    const statuses: Record<string, number> = {}
    for (const r of phases) merge(statuses, r.statuses)
    const firstError = phases.find((r) => r.firstError)?.firstError
    const firstMismatch = phases.find((r) => r.firstMismatch)?.firstMismatch
    return {
      round,
      path,
      body,
      rps: (run.requests * 1000) / run.elapsedMs,
      p50Ms: quantile(run.latencies, 0.5),
      p99Ms: quantile(run.latencies, 0.99),
      pacedP50Ms: quantile(slow.latencies, 0.5),
      pacedP99Ms: quantile(slow.latencies, 0.99),
      pacedRps: (slow.requests * 1000) / slow.elapsedMs,
      cpuUsPerReq: pid === undefined || run.requests === 0 ? null : (cpu1 - cpu0) / run.requests,
      mainCpuUsPerReq: pid === undefined || run.requests === 0 ? null : (main1 - main0) / run.requests,
      handshakesPer1k: counted === 0 ? NaN : (newConnections * 1000) / counted,
      replacedPer1k: counted === 0 ? NaN : (Math.max(0, newConnections - Math.max(0, poolGrowth)) * 1000) / counted,
      poolSize,
      poolGrowth,
      settleMs: settle.phases.length * SETTLE_SLICE_MS,
      requests: phases.reduce((n, r) => n + r.requests, 0),
      statuses,
      errors: phases.reduce((n, r) => n + r.errors, 0),
      mismatches: phases.reduce((n, r) => n + r.mismatches, 0),
      ...(firstError !== undefined ? { firstError } : {}),
      ...(firstMismatch !== undefined ? { firstMismatch } : {}),
    }
  } finally {
    await t.dispatcher.destroy()
  }
}
