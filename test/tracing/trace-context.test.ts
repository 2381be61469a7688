import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js'
import { accessLineWhere, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { rawRoundTrip } from '../support/raw-client.js'

// W3C Trace Context through the gateway, and the spans it exports over OTLP/HTTP to a receiver
// that decodes them with the OpenTelemetry protobuf definitions.
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_PARENT = '00f067aa0ba902b7'
const SECRETS = { field: 'field-value-s3cr3t-9d1', pathToken: 'pathtok-8c2e-secret', query: 'querysecret-77aa', collector: 'collector-key-5e6f' }
const SPAN_SERVER = SPAN_KIND.SERVER
const SPAN_CLIENT = SPAN_KIND.CLIENT

let pki: TestPki
let upstream: RunningServer
let receiver: OtlpReceiver
let g: OpsGateway
let tls: Record<string, string>

const yamlWith = (tracing: string): string =>
  `tracing:\n${tracing}endpoints:\n${endpointYaml('partner', upstream.port, tls, `    fields: [{ type: header, key: X-Api-Key, value: "${SECRETS.field}" }]\n`)}`
const exportTo = (url: string, ratio = 1): string =>
  `  enabled: true\n  serviceName: gw-under-test\n  sampler: { ratio: ${ratio} }\n  otlp:\n    endpoint: ${url}\n    headers: { x-api-key: "\${env:OTLP_TEST_KEY}" }\n`

beforeAll(async () => {
  process.env.OTLP_TEST_KEY = SECRETS.collector
  pki = await createTestPki()
  tls = clientTls(pki)
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  receiver = await startOtlpReceiver()
  g = await startOpsGateway(pki.dir, yamlWith(exportTo(receiver.url)))
})
afterAll(async () => {
  await g?.gw.close()
  await receiver?.close()
  await upstream?.close()
  pki?.cleanup()
  delete process.env.OTLP_TEST_KEY
})

const parse = (traceparent: unknown): { version: string; traceId: string; parentId: string; flags: string } => {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(traceparent))
  if (!m) throw new Error(`not a traceparent: ${String(traceparent)}`)
  return { version: m[1] as string, traceId: m[2] as string, parentId: m[3] as string, flags: m[4] as string }
}

describe('a caller that sends traceparent', () => {
  let echo: EchoReply
  let spans: ReceivedSpan[]
  let access: Record<string, unknown> | undefined

  beforeAll(async () => {
    const r = await send(g.gw.url, `/proxy/partner/items/${SECRETS.pathToken}?api_key=${SECRETS.query}`, {
      headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_PARENT}-01`, tracestate: 'vendor=abc', 'x-request-id': 'traced-1' },
    })
    expect(r.status, r.text).toBe(200)
    echo = r.json<EchoReply>()
    spans = (await receiver.waitFor((s) => s.filter((x) => x.traceId === CALLER_TRACE).length >= 2)).filter((s) => s.traceId === CALLER_TRACE)
    access = await accessLineWhere(g, (l) => l.reqId === 'traced-1', 'the access line of traced-1')
  })

  it('the upstream receives a child context: the same trace id, a new parent id, the caller\'s tracestate', () => {
    const up = parse(echo.headers.traceparent)
    expect(up.traceId).toBe(CALLER_TRACE)
    expect(up.parentId).not.toBe(CALLER_PARENT)
    expect(up.flags).toBe('01')
    expect(echo.headers.tracestate).toBe('vendor=abc')
  })

  it('the access line carries the trace id and the server span id', () => {
    const server = spans.find((s) => s.kind === SPAN_SERVER)
    expect(access).toMatchObject({ trace_id: CALLER_TRACE, span_id: server?.spanId })
  })

  it('exports a server span under the caller\'s span and a client span under it, whose id the upstream saw as parent', () => {
    const server = spans.find((s) => s.kind === SPAN_SERVER)
    const client = spans.find((s) => s.kind === SPAN_CLIENT)
    expect(server).toMatchObject({ name: 'GET partner', parentSpanId: CALLER_PARENT })
    expect(client).toMatchObject({ name: 'GET partner', parentSpanId: server?.spanId })
    expect(parse(echo.headers.traceparent).parentId).toBe(client?.spanId)
    expect(server?.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'mtls_gateway.mode': 'route', 'mtls_gateway.endpoint': 'partner' })
    expect(server?.attributes['http.response.size']).toBeGreaterThan(0)
    expect(client?.attributes).toMatchObject({
      'server.address': 'api.partner.test',
      'server.port': upstream.port,
      'network.peer.address': '127.0.0.1',
      'tls.protocol.version': '1.3',
      'tls.resumed': false,
      'http.response.status_code': 200,
      'mtls_gateway.mode': 'route',
      'mtls_gateway.endpoint': 'partner',
    })
    expect(server?.resource).toMatchObject({ 'service.name': 'gw-under-test' })
  })

  it('the request-duration histogram carries the trace id as an exemplar (OpenMetrics exposition)', async () => {
    const r = await fetch(`${g.adminUrl}/metrics`, { headers: { accept: 'application/openmetrics-text' } })
    expect(r.headers.get('content-type')).toContain('application/openmetrics-text')
    const text = await r.text()
    expect(text).toMatch(new RegExp(`^mtls_gateway_request_duration_seconds_bucket\\{[^}]*endpoint="partner"[^}]*mode="route"[^}]*\\} \\d+ # \\{trace_id="${CALLER_TRACE}"\\} [0-9.e-]+ `, 'm'))
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
  })

  it('puts no secret, no path and no field value in any exported byte, and sends the collector its header', () => {
    const all = Buffer.concat(receiver.bodies).toString('latin1') + JSON.stringify(receiver.spans)
    for (const secret of [...Object.values(SECRETS), '/items/', 'api_key']) expect(all).not.toContain(secret)
    expect(receiver.headers.every((h) => h['x-api-key'] === SECRETS.collector)).toBe(true)
  })
})

describe('the forward proxy (absolute-form request line)', () => {
  it('continues the caller\'s trace the same way: child context upstream, server and client spans, trace id in the access line', async () => {
    const trace = 'fa'.repeat(16)
    const r = await send(g.gw.url, `http://api.partner.test:${upstream.port}/v1/${SECRETS.pathToken}?api_key=${SECRETS.query}`, {
      headers: { traceparent: `00-${trace}-${CALLER_PARENT}-01`, 'x-request-id': 'forward-1' },
    })
    expect(r.status, r.text).toBe(200)
    const up = parse(r.json<EchoReply>().headers.traceparent)
    expect(up).toMatchObject({ traceId: trace, flags: '01' })
    const spans = (await receiver.waitFor((s) => s.filter((x) => x.traceId === trace).length >= 2)).filter((s) => s.traceId === trace)
    const server = spans.find((s) => s.kind === SPAN_SERVER)
    const client = spans.find((s) => s.kind === SPAN_CLIENT)
    expect(server).toMatchObject({ parentSpanId: CALLER_PARENT, attributes: { 'mtls_gateway.mode': 'forward', 'mtls_gateway.endpoint': 'partner', 'http.response.status_code': 200 } })
    expect(client).toMatchObject({ parentSpanId: server?.spanId, spanId: up.parentId, attributes: { 'mtls_gateway.mode': 'forward', 'server.address': 'api.partner.test' } })
    expect(await accessLineWhere(g, (l) => l.reqId === 'forward-1', 'the access line of forward-1')).toMatchObject({ mode: 'forward', trace_id: trace, span_id: server?.spanId })
    const exported = JSON.stringify(spans)
    for (const secret of [SECRETS.pathToken, SECRETS.query, SECRETS.field]) expect(exported).not.toContain(secret)
  })
})

describe('a caller without traceparent', () => {
  it('gets a trace the gateway starts: the upstream and the access line see its id, and its spans are exported', async () => {
    const r = await send(g.gw.url, '/proxy/partner/fresh', { headers: { 'x-request-id': 'fresh-1' } })
    expect(r.status).toBe(200)
    const up = parse(r.json<EchoReply>().headers.traceparent)
    expect(up.flags).toBe('01')
    const spans = await receiver.waitFor((s) => s.filter((x) => x.traceId === up.traceId).length >= 2)
    const server = spans.find((s) => s.traceId === up.traceId && s.kind === SPAN_SERVER)
    expect(server?.parentSpanId).toBe('')
    expect(await accessLineWhere(g, (l) => l.reqId === 'fresh-1', 'the access line of fresh-1')).toMatchObject({ trace_id: up.traceId, span_id: server?.spanId })
  })

  it('a malformed traceparent is not continued: the upstream gets a new, valid one', async () => {
    // Version 00 with a fifth field, upper-case hex, an all-zero parent id are malformed too (W3C Trace Context §3.2.2).
    for (const bad of ['00-zz-00-01', `00-${'0'.repeat(32)}-${CALLER_PARENT}-01`, `ff-${CALLER_TRACE}-${CALLER_PARENT}-01`, `00-${CALLER_TRACE}-${CALLER_PARENT}-01-future`, `00-${CALLER_TRACE.toUpperCase()}-${CALLER_PARENT}-01`, `00-${CALLER_TRACE}-${'0'.repeat(16)}-01`]) {
      const r = await send(g.gw.url, '/proxy/partner/bad-parent', { headers: { traceparent: bad } })
      const up = parse(r.json<EchoReply>().headers.traceparent)
      expect(up.traceId, bad).not.toBe(CALLER_TRACE)
      expect(up.traceId).not.toBe('0'.repeat(32))
    }
  })

  it('a refused request is a failed server span with the reason and no client span', async () => {
    const tp = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`
    expect((await send(g.gw.url, '/proxy/nope/x', { headers: { traceparent: tp } })).status).toBe(403)
    const spans = (await receiver.waitFor((s) => s.some((x) => x.traceId === 'ab'.repeat(16)))).filter((s) => s.traceId === 'ab'.repeat(16))
    expect(spans).toHaveLength(1)
    expect(spans[0]).toMatchObject({ kind: SPAN_SERVER, status: { code: 2, message: 'endpoint_not_configured' }, attributes: { 'error.type': 'endpoint_not_configured', 'http.response.status_code': 403 } })
  })
})

describe('reload', () => {
  it('takes a new sampler ratio, and refuses a change of the exporter (restart-only), keeping the last good config', async () => {
    const file = join(pki.dir, 'gateway.yaml')
    writeFileSync(file, yamlWith(exportTo(receiver.url, 0)))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    const unsampled = await send(g.gw.url, '/proxy/partner/after-reload')
    expect(parse(unsampled.json<EchoReply>().headers.traceparent).flags).toBe('00')
    // parentBased off: the ratio (0) decides even for a caller's sampled context.
    writeFileSync(file, yamlWith(exportTo(receiver.url, 0).replace('sampler: { ratio: 0 }', 'sampler: { ratio: 0, parentBased: false }')))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    const ignored = await send(g.gw.url, '/proxy/partner/ignored', { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_PARENT}-01` } })
    expect(parse(ignored.json<EchoReply>().headers.traceparent)).toMatchObject({ traceId: CALLER_TRACE, flags: '00' })
    writeFileSync(file, yamlWith(exportTo('http://127.0.0.1:9/v1/traces', 0)))
    const refused = await g.gw.ops?.reload('test')
    expect(refused).toMatchObject({ ok: false, problems: [expect.stringContaining('tracing.otlp.endpoint: changed, and takes effect only after a restart')] })
    writeFileSync(file, yamlWith(exportTo(receiver.url, 1)))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
  })
})

describe('tracing off (the default)', () => {
  it('passes the caller\'s traceparent through unchanged and logs no trace id', async () => {
    const off = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`, { watch: false })
    try {
      const tp = `00-${CALLER_TRACE}-${CALLER_PARENT}-01`
      const r = await send(off.gw.url, '/proxy/partner/x', { headers: { traceparent: tp, tracestate: 'vendor=abc', 'x-request-id': 'off-1' } })
      expect(r.json<EchoReply>().headers).toMatchObject({ traceparent: tp, tracestate: 'vendor=abc' })
      const line = await accessLineWhere(off, (l) => l.reqId === 'off-1', 'the access line of off-1')
      expect(line).not.toHaveProperty('trace_id')
      expect(line?.responseBytes).toBeGreaterThan(0)
    } finally {
      await off.gw.close()
    }
  })
})

describe('a request Node\'s HTTP parser refused', () => {
  it('has a server span of its own (a new trace: no head to read a context from), whose ids its access line carries', async () => {
    const r = await rawRoundTrip(Number(new URL(g.gw.url).port), 'GET /proxy/partner/x HTTP/1.1\r\nHost: gw\r\nBad Header: x\r\n\r\n')
    expect(r.status, r.body.toString()).toBe(400)
    const line = await accessLineWhere(g, (l) => l.method === '-' && l.reason === 'bad_request', 'the refused request\'s access line')
    expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/)
    expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/)
    const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === line?.trace_id))
    // OpenTelemetry's HTTP server conventions: a method that is not known is `_OTHER`, the span named `HTTP`.
    expect(spans.find((x) => x.traceId === line?.trace_id)).toMatchObject({
      spanId: line?.span_id, parentSpanId: '', kind: SPAN_SERVER, name: 'HTTP', status: { code: 2, message: 'bad_request' },
      attributes: { 'http.request.method': '_OTHER', 'error.type': 'bad_request', 'http.response.status_code': 400 },
    })
  })
})

describe('two traceparent lines', () => {
  it('are no trace context (Node joins them): the call is served in a new trace, neither caller trace continued', async () => {
    const [a, b] = ['ab'.repeat(16), 'cd'.repeat(16)]
    for (const [first, second] of [[a, a], [a, b]]) {
      const lines = [`GET /proxy/partner/x HTTP/1.1`, 'Host: gw', `traceparent: 00-${first}-${CALLER_PARENT}-01`, `Traceparent: 00-${second}-${CALLER_PARENT}-01`, 'Connection: close']
      const r = await rawRoundTrip(Number(new URL(g.gw.url).port), `${lines.join('\r\n')}\r\n\r\n`)
      expect(r.status, r.body.toString()).toBe(200)
      const up = parse((JSON.parse(r.body.toString('utf8')) as EchoReply).headers.traceparent)
      expect([a, b]).not.toContain(up.traceId)
    }
  })

  it('are no trace context when the first is a future version with fields of its own (§3.2.4): Node\'s join ", " would read as its fields', async () => {
    const [a, b] = ['ab'.repeat(16), 'cd'.repeat(16)]
    const lines = [`GET /proxy/partner/x HTTP/1.1`, 'Host: gw', `traceparent: cc-${a}-${CALLER_PARENT}-01-what-the-future-holds`, `traceparent: 00-${b}-${CALLER_PARENT}-01`, 'Connection: close']
    const r = await rawRoundTrip(Number(new URL(g.gw.url).port), `${lines.join('\r\n')}\r\n\r\n`)
    expect(r.status, r.body.toString()).toBe(200)
    expect([a, b]).not.toContain(parse((JSON.parse(r.body.toString('utf8')) as EchoReply).headers.traceparent).traceId)
  })
})

describe('a tracestate naming a key twice', () => {
  it('is no list W3C Trace Context accepts: none goes upstream (it went merged, the first key\'s place with the last value)', async () => {
    for (const state of ['foo=1,bar=2,foo=3', 'foo=1,foo=1', 'foo=1 , bar=2,foo=2']) {
      const r = await send(g.gw.url, '/proxy/partner/dup-state', { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_PARENT}-01`, tracestate: state } })
      const echoed = r.json<EchoReply>().headers
      expect(parse(echoed.traceparent).traceId).toBe(CALLER_TRACE)
      expect(echoed, JSON.stringify(state)).not.toHaveProperty('tracestate')
    }
  })
})

describe('a future traceparent version (W3C Trace Context §3.2.4)', () => {
  it('is continued from its first four fields; the upstream gets the version the gateway writes, 00', async () => {
    const r = await send(g.gw.url, '/proxy/partner/future', { headers: { traceparent: `cc-${CALLER_TRACE}-${CALLER_PARENT}-01-what-the-future-holds`, tracestate: 'vendor=abc' } })
    const up = parse(r.json<EchoReply>().headers.traceparent)
    expect(up).toMatchObject({ version: '00', traceId: CALLER_TRACE, flags: '01' })
    expect(up.parentId).not.toBe(CALLER_PARENT)
    expect(r.json<EchoReply>().headers.tracestate).toBe('vendor=abc')
  })
})
