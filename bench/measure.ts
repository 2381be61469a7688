/**
 * One measurement of one path: warm up (connections, JIT), then a closed-loop phase
 * (req/s, latency at saturation, CPU per request of the proxy process) and a paced phase
 * (latency at a fixed offered rate). Upstream handshakes are counted on the upstream
 * (nginx stub_status "accepts") between the end of warm-up and the end of the paced phase.
 */
import { get } from 'node:http'
import { closedLoop, paced, quantile, type LoadResult } from './load.js'
import type { BodyKind, PathId, PathSetup } from './paths.js'
import { cpuMicros } from './procs.js'

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
  /** New upstream connections (= TLS handshakes, full or resumed) per 1,000 requests after warm-up. */
  handshakesPer1k: number
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

/** Drives a path unmeasured (JIT, pools, leaf cache), once before the rounds. */
export async function prewarm(setup: PathSetup, body: BodyKind, users: number, ms: number): Promise<void> {
  const t = setup.target(body, users)
  try {
    await closedLoop(t, users, ms)
  } finally {
    await t.dispatcher.destroy()
  }
}

/** Runs the phases against a fresh dispatcher and closes it. */
export async function measure(round: number, path: PathId, body: BodyKind, setup: PathSetup, statusPort: number, o: MeasureOptions): Promise<Sample> {
  const t = setup.target(body, o.users)
  const pid = setup.proxy?.pid
  try {
    const warm = await closedLoop(t, o.users, o.warmupMs)
    const accepts0 = await upstreamAccepts(statusPort)
    const cpu0 = pid === undefined ? 0 : cpuMicros(pid)
    const run = await closedLoop(t, o.users, o.durationMs)
    const cpu1 = pid === undefined ? 0 : cpuMicros(pid)
    const slow = await paced(t, o.users, o.rate, o.pacedMs)
    // The second status request is itself one accepted connection.
    const newConnections = (await upstreamAccepts(statusPort)) - accepts0 - 1
    const phases: LoadResult[] = [warm, run, slow]
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
      handshakesPer1k: run.requests + slow.requests === 0 ? NaN : (newConnections * 1000) / (run.requests + slow.requests),
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
