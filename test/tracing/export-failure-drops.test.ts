/**
 * Spans lost in failed exports are counted (docs/tracing.md, Export and failure): a batch the
 * collector answers with an error, or does not answer within `tracing.otlp.timeout`, is not sent
 * again, so its spans are dropped like those past the 4096 bound. They are counted in
 * `mtls_gateway_trace_spans_dropped_total{reason="export_failed"}` (the bound's in
 * `reason="queue_full"`). Before, only a rate-limited warning said so: the counter stayed at 0 while
 * every span was lost. Real OTLP/HTTP receivers that decode each export and answer 500, or never
 * answer: the count is exactly the spans they were sent. Then serve --workers 2 against the
 * failing receiver, across a SIGHUP reload: the primary's series is the sum of the workers'.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTracing, type Tracing } from '../../src/tracing/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { tracingGatewayYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { entriesWhen } from '../support/log-entries.js'
import { eventually } from '../support/eventually.js'
import { get, parseMetrics, valueOf } from '../ops/helpers.js'

const SAMPLER = { ratio: 1, parentBased: true }
const receivers: OtlpReceiver[] = []
const tracers: Tracing[] = []
let pki: TestPki
let upstream: RunningServer

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
})

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()))
  await Promise.all(tracers.map((t) => t.shutdown(1000)))
  await upstream?.close()
  pki?.cleanup()
})

async function receiver(answer: number | 'never'): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver({ answer })
  receivers.push(r)
  return r
}

/** The gateway's tracer as serve starts it, exporting to `r` with this timeout; export failures collected. */
async function tracerTo(r: OtlpReceiver, timeoutMs: number): Promise<{ tracing: Tracing; failures: string[] }> {
  const failures: string[] = []
  const tracing = await startTracing(
    { enabled: true, serviceName: 'export-failure-drops', sampler: SAMPLER, otlp: { endpoint: r.url, protocol: 'http/protobuf', headers: {}, timeoutMs, tls: {} } },
    { sampler: () => SAMPLER, onExportFailure: (p) => void failures.push(p), version: 'test' },
  )
  if (!tracing) throw new Error('tracing is on in this test')
  tracers.push(tracing)
  return { tracing, failures }
}

/** Ends `n` server spans whose caller set the sampled flag. */
function endSampled(t: Tracing, n: number): void {
  for (let i = 1; i <= n; i++) t.request({ traceparent: `00-${i.toString(16).padStart(32, '0')}-${'2'.repeat(16)}-01` }).end({ method: 'GET', status: 200, mode: 'route' })
}

describe('spans in failed exports', () => {
  // Two batches (512 and 188): each export's spans are counted once, as the receiver decoded them.
  const SPANS = 700

  it('a collector answering 500: every span it was sent is counted as export_failed', async () => {
    const r = await receiver(500)
    const { tracing, failures } = await tracerTo(r, 10_000)
    endSampled(tracing, SPANS)
    await eventually(() => tracing.failedExportSpans() === SPANS, 60_000, 'both exports answered 500')
    expect(r.spans).toHaveLength(SPANS)
    expect(tracing.droppedSpans()).toBe(0)
    expect(failures[0]).toContain('failed')
  }, 120_000)

  it('a collector that never answers: the spans of each export timed out are counted as export_failed', async () => {
    const r = await receiver('never')
    const { tracing } = await tracerTo(r, 1000)
    endSampled(tracing, SPANS)
    await eventually(() => tracing.failedExportSpans() === SPANS, 60_000, 'both exports timed out')
    expect(r.spans).toHaveLength(SPANS)
    expect(tracing.droppedSpans()).toBe(0)
  }, 120_000)
})

describe('with serve --workers 2 and a reload', () => {
  let collector: OtlpReceiver
  let gp: GatewayProcess
  let admin: string
  let pool: Pool
  let configFile: string
  const yaml = (parentBased: boolean): string => tracingGatewayYaml({ collectorUrl: collector.url, timeout: '10s', parentBased, port: upstream.port, tls: clientTls(pki) })

  beforeAll(async () => {
    collector = await receiver(500)
    configFile = join(pki.dir, 'export-failure.yaml')
    writeFileSync(configFile, yaml(true))
    gp = await spawnGateway(configFile, ['--workers', '2'])
    admin = await adminUrlOf(gp)
    // Many connections, so both workers take some (each connection stays with the worker that accepted it).
    pool = new Pool(gp.url, { connections: 32 })
  }, 120_000)

  afterAll(async () => {
    await pool?.close()
    await gp?.stop('SIGKILL')
  })

  const dropped = async (reason: string): Promise<number> =>
    valueOf(parseMetrics((await get(`${admin}/metrics`)).text), 'mtls_gateway_trace_spans_dropped_total', { reason }) ?? Number.NaN
  const pids = (): Set<unknown> => new Set(collector.spans.map((s) => s.resource['process.pid']))

  /** Sends rounds of requests until spans of both workers reached the collector. */
  async function requestsUntilBothExport(): Promise<void> {
    let round = 0
    await eventually(async () => {
      await Promise.all(Array.from({ length: 64 }, async (_, i) => (await pool.request({ path: `/proxy/partner/r${round}-${i}`, method: 'GET' })).body.dump()))
      round++
      return pids().size >= 2
    }, 120_000, 'spans from both workers at the collector')
  }

  it('the primary sums each worker\'s export_failed count, before and after the reload; queue_full stays 0', async () => {
    await requestsUntilBothExport()
    expect(pids().size).toBe(2)
    // Every span a worker sent was answered 500: the sum is what the collector decoded.
    await eventually(async () => collector.spans.length > 0 && (await dropped('export_failed')) === collector.spans.length, 60_000, 'the sum of the workers\' counts')
    const first = collector.spans.length
    expect(await dropped('queue_full')).toBe(0)

    const from = gp.output.length
    writeFileSync(configFile, yaml(false))
    gp.child.kill('SIGHUP')
    await entriesWhen(gp, (e) => e.msg === 'config reloaded', 2, { from, timeoutMs: 60_000, what: 'each worker to reload' })
    await Promise.all(Array.from({ length: 64 }, async (_, i) => (await pool.request({ path: `/proxy/partner/after-${i}`, method: 'GET' })).body.dump()))
    await eventually(async () => collector.spans.length > first && (await dropped('export_failed')) === collector.spans.length, 60_000, 'the count going on across the reload')
    expect(await dropped('queue_full')).toBe(0)
  }, 300_000)
})
