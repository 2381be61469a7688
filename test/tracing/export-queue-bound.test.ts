/**
 * The bound on spans waiting for export (docs/tracing.md, Export and failure): with a collector
 * that takes the connection and never answers, every sampled span stays held once handed over, so
 * a flood of sampled requests must stop at 4096 held per process, the rest dropped and counted in
 * `mtls_gateway_trace_spans_dropped_total`. Before, the batch processor's queue bound left out the
 * spans in exports not yet answered (up to the exporter's 30 concurrent exports of 512), and what
 * it dropped was counted nowhere. The gateway's tracer (startTracing, as serve starts it) with a
 * real hung collector, ending the server spans of requests whose caller set the sampled flag; and
 * an in-process gateway with ops for the metric family.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { startTracing, type Tracing } from '../../src/tracing/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { get, parseMetrics, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
let collector: HungUpstream
let g: OpsGateway
const tracers: Tracing[] = []
const LIMIT = 4096
const SPANS = 4400

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  // The hung collector: takes the connection and the request, never answers.
  collector = await startHungUpstream({ read: true })
  g = await startOpsGateway(pki.dir, `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\ntracing: { enabled: true }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`, { watch: false })
})

afterAll(async () => {
  // The collector goes away first, so the gateway's span flush at close fails fast instead of waiting.
  await collector?.close()
  // A bounded shutdown: the collector never answers what it was sent.
  await Promise.all(tracers.map((t) => t.shutdown(1000)))
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('spans waiting for a collector that never answers', () => {
  it('are held up to 4096 per process; the rest are dropped and counted', async () => {
    // The gateway's tracer, as serve starts it, exporting to the hung collector.
    const tracing = await startTracing(
      { enabled: true, serviceName: 'export-queue-bound', sampler: { ratio: 1, parentBased: true }, otlp: { endpoint: `http://127.0.0.1:${collector.port}/v1/traces`, protocol: 'http/protobuf', headers: {}, timeoutMs: 20_000, tls: {} } },
      { sampler: () => ({ ratio: 1, parentBased: true }), onExportFailure: () => {}, version: 'test' },
    )
    if (!tracing) throw new Error('tracing is on in this test')
    tracers.push(tracing)
    // What a flood of requests with a caller's sampled flag ends: one server span each. The loop
    // is synchronous, so no export can return during it: exactly LIMIT are held, the rest dropped.
    for (let i = 1; i <= SPANS; i++) tracing.request({ traceparent: `00-${i.toString(16).padStart(32, '0')}-${'1'.repeat(16)}-01` }).end({ method: 'GET', status: 200, mode: 'route' })
    expect(tracing.droppedSpans()).toBe(SPANS - LIMIT)
  }, 120_000)

  it('the count is mtls_gateway_trace_spans_dropped_total on /metrics, at 0 with tracing on', async () => {
    const m = parseMetrics((await get(`${g.adminUrl}/metrics`)).text)
    expect(valueOf(m, 'mtls_gateway_trace_spans_dropped_total', { reason: 'queue_full' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_trace_spans_dropped_total', { reason: 'export_failed' })).toBe(0)
  })
})
