/**
 * Span drops in the log with serve --workers 2 and across a hot reload (docs/tracing.md, Export
 * and failure): each worker holds its own 4096 spans, so each logs its own `tracing: dropping spans`
 * once when its drops start and `tracing: spans no longer dropped` with its count once none came for
 * 30 s; the primary's `mtls_gateway_trace_spans_dropped_total` is the sum of those counts. The
 * tracer is restart-only, so a SIGHUP reload in the middle of an episode changes nothing of it: no
 * second start line, and the drops after the reload end the same episode with one count. A real
 * hung OTLP collector; floods of real requests until each worker said it drops (waiting for lines,
 * not for time). (One episode, not one on each side of the reload: each costs its 30 s quiet window.)
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { tracingGatewayYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { entriesWhen, type LogEntry } from '../support/log-entries.js'
import { eventually } from '../support/eventually.js'
import { get, parseMetrics, valueOf } from '../ops/helpers.js'

const WORKERS = 2
let pki: TestPki
let upstream: RunningServer
let collector: HungUpstream
let gp: GatewayProcess
let admin: string
let configFile: string

const yaml = (parentBased: boolean): string =>
  tracingGatewayYaml({ collectorUrl: `http://127.0.0.1:${collector.port}/v1/traces`, timeout: '60s', parentBased, port: upstream.port, tls: clientTls(pki) })

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  // The hung collector: takes each export and never answers, so every span handed over stays held.
  collector = await startHungUpstream({ read: true })
  configFile = join(pki.dir, 'gateway.yaml')
  writeFileSync(configFile, yaml(true))
  gp = await spawnGateway(configFile, ['--workers', String(WORKERS)])
  admin = await adminUrlOf(gp)
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await collector?.close()
  await upstream?.close()
  pki?.cleanup()
})

const named = (msg: string) => (e: LogEntry): boolean => e.msg === msg
const pidsOf = (entries: LogEntry[]): Set<unknown> => new Set(entries.map((e) => e.pid))

/**
 * Sends requests (two sampled spans each) in rounds until every worker logged that it drops spans.
 * Each round on new connections (many, so both workers take some): a connection stays with the
 * worker that accepted it, and on a loaded machine one worker can take a whole pool's; a later
 * round's connections are dealt out again.
 */
async function floodUntilEachDrops(from: number): Promise<void> {
  for (let round = 0; pidsOf(gp.logEntries(from).filter(named('tracing: dropping spans'))).size < WORKERS; round++) {
    if (round > 40) throw new Error('the workers did not all drop spans after 40 rounds of requests')
    const pool = new Pool(gp.url, { connections: 32 })
    try {
      await Promise.all(Array.from({ length: 256 }, async (_, i) => (await pool.request({ path: `/proxy/partner/r${round}-${i}`, method: 'GET' })).body.dump()))
    } finally {
      await pool.close()
    }
  }
}

/** The primary's mtls_gateway_trace_spans_dropped_total (summed over the workers). */
async function droppedTotal(): Promise<number> {
  return valueOf(parseMetrics((await get(`${admin}/metrics`)).text), 'mtls_gateway_trace_spans_dropped_total', { reason: 'queue_full' }) ?? Number.NaN
}

/** Waits for each worker's end-of-episode line from `from`; their counts, summed. */
async function episodeEnds(from: number): Promise<number> {
  const ends = await entriesWhen(gp, named('tracing: spans no longer dropped'), WORKERS, { from, timeoutMs: 180_000, what: 'each worker\'s end-of-drops line' })
  expect(pidsOf(ends).size).toBe(WORKERS)
  for (const e of ends) expect(e).toMatchObject({ level: 'warn', spans: expect.any(Number), quietMs: 30_000 })
  // One start line per worker for the episode, never one per span.
  const starts = gp.logEntries(from).filter(named('tracing: dropping spans'))
  expect(starts).toHaveLength(WORKERS)
  for (const s of starts) expect(s).toMatchObject({ level: 'warn', limit: 4096 })
  return ends.reduce((sum, e) => sum + (e.spans as number), 0)
}

/** Sends one more round of requests (two sampled spans each), dropped by whichever worker takes them. */
async function oneRound(round: string): Promise<void> {
  const pool = new Pool(gp.url, { connections: 32 })
  try {
    await Promise.all(Array.from({ length: 256 }, async (_, i) => (await pool.request({ path: `/proxy/partner/${round}-${i}`, method: 'GET' })).body.dump()))
  } finally {
    await pool.close()
  }
}

describe('span drops with --workers 2 and a reload', () => {
  it('each worker logs its own episode, the primary sums the counts, and a reload in the middle of it changes nothing', async () => {
    const from = gp.output.length
    await floodUntilEachDrops(from)
    const beforeReload = await droppedTotal()
    writeFileSync(configFile, yaml(false))
    gp.child.kill('SIGHUP')
    await entriesWhen(gp, named('config reloaded'), WORKERS, { from, timeoutMs: 60_000, what: 'each worker to reload' })
    // Well within the 30 s quiet window of the drops before the reload: the same episode goes on.
    await oneRound('after-reload')
    const count = await episodeEnds(from)
    expect(count).toBeGreaterThan(0)
    await eventually(async () => (await droppedTotal()) === count, 60_000, 'the primary\'s sum of the episode')
    expect(count).toBeGreaterThan(beforeReload)
  }, 600_000)
})
