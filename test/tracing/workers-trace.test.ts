import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver } from '../support/otlp-receiver.js'
import { get, parseMetrics, valueOf } from '../ops/helpers.js'

// serve --workers 2 with tracing: every worker continues the caller's trace and exports its own
// spans; the primary's /metrics aggregates the workers' process and Node families sensibly.
let pki: TestPki
let upstream: RunningServer
let receiver: OtlpReceiver
let gp: GatewayProcess
let admin: string

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  receiver = await startOtlpReceiver()
  const tls = clientTls(pki)
  const config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ntracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
  gp = await spawnGateway(config, ['--workers', '2'])
  admin = await adminUrlOf(gp)
}, 120_000)
afterAll(async () => {
  await gp?.stop('SIGKILL')
  await receiver?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('tracing with serve --workers 2', () => {
  it('each worker continues the caller\'s trace and exports its spans', async () => {
    const traceIds = Array.from({ length: 12 }, (_, i) => (i + 1).toString(16).padStart(32, 'a'))
    const replies = await Promise.all(traceIds.map((t) => send(gp.url, '/proxy/partner/w', { headers: { traceparent: `00-${t}-${'1'.repeat(16)}-01` } })))
    expect(replies.map((r) => String(r.json<EchoReply>().headers.traceparent).split('-')[1])).toEqual(traceIds)
    const spans = await receiver.waitFor((s) => traceIds.every((t) => s.some((x) => x.traceId === t && x.kind === SPAN_KIND.CLIENT)))
    const pids = new Set(spans.filter((x) => traceIds.includes(x.traceId)).map((x) => x.resource['process.pid']))
    expect(pids.size).toBe(2)
    expect(pids.has(gp.child.pid as number)).toBe(false)
  })

  it('the primary\'s scrape sums its own and the workers\' CPU and memory (the instance) and keeps the Node families', async () => {
    const r = await get(`${admin}/metrics`)
    expect(r.status).toBe(200)
    const m = parseMetrics(r.text)
    expect(valueOf(m, 'process_resident_memory_bytes')).toBeGreaterThan(3 * 20 * 1024 * 1024)
    expect(valueOf(m, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(valueOf(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
    expect(m.filter((s) => s.name === 'mtls_gateway_build_info')).toHaveLength(1)
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner', mode: 'route' })).toBe(12)
  })

  it('the primary\'s scrape carries the workers\' trace ids as exemplars (OpenMetrics), as one process\'s does', async () => {
    const r = await fetch(`${admin}/metrics`, { headers: { accept: 'application/openmetrics-text' } })
    expect(r.headers.get('content-type')).toContain('application/openmetrics-text')
    const text = await r.text()
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
    const exemplars = [...text.matchAll(/^mtls_gateway_request_duration_seconds_bucket\{[^}]*endpoint="partner"[^}]*mode="route"[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})"\} [0-9.e-]+ [0-9.]+$/gm)].map((x) => x[1])
    expect(exemplars.length).toBeGreaterThan(0)
    const sent = Array.from({ length: 12 }, (_, i) => (i + 1).toString(16).padStart(32, 'a'))
    for (const id of exemplars) expect(sent).toContain(id)
    // Buckets still summed over the processes.
    expect(valueOf(parseMetrics(text), 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner', mode: 'route' })).toBe(12)
  })
})

describe('SIGTERM with tracing on', () => {
  it('exports the spans still buffered before the process exits (one process)', async () => {
    const config = join(pki.dir, 'single.yaml')
    const tls = clientTls(pki)
    writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ntracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    const single = await spawnGateway(config, ['--workers', '1'])
    const traceId = 'f'.repeat(31) + '1'
    const r = await send(single.url, '/proxy/partner/last', { headers: { traceparent: `00-${traceId}-${'2'.repeat(16)}-01` } })
    expect(r.status).toBe(200)
    // The batch is sent every second; SIGTERM right away leaves it to the drain's flush.
    expect(await single.stop('SIGTERM')).toBe(0)
    expect(receiver.spans.filter((x) => x.traceId === traceId).map((x) => x.kind).sort()).toEqual([SPAN_KIND.SERVER, SPAN_KIND.CLIENT].sort())
  })
})
