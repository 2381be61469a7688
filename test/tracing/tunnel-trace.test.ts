import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ProxyAgent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { accessLineWhere, accessLinesWhere, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { openTunnel } from '../support/tunnel.js'

// CONNECT with interception: one span for the tunnel, the inner requests its children (the
// real curl, two requests on one tunnel); an inner request that brings its own traceparent
// stays in the caller's trace and links the tunnel. A tunnel to an IPv6 literal: server.address
// holds the address as the conventions write one (no brackets), the span name brackets it.
const run = promisify(execFile)

/** The first access line that `match`es, once written. */
async function eventuallyLine(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const line = g.access().find(match)
    if (line) return line
  }
  throw new Error('timed out waiting for the access line')
}
const SPAN_SERVER = SPAN_KIND.SERVER
const SPAN_CLIENT = SPAN_KIND.CLIENT

let pki: TestPki
let upstream: RunningServer
let upstream6: RunningServer
let receiver: OtlpReceiver
let g: OpsGateway
let ca: { caCert: string; caKey: string }

beforeAll(async () => {
  pki = await createTestPki('p256', ['localhost', '127.0.0.1', '::1'])
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  upstream6 = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), host: '::1' })
  receiver = await startOtlpReceiver()
  const yaml = `tracing:
  enabled: true
  otlp: { endpoint: ${receiver.url} }
interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }
endpoints:
  - name: echo
    url: https://localhost:${upstream.port}
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
  - name: echo6
    url: https://[::1]:${upstream6.port}
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`
  g = await startOpsGateway(pki.dir, yaml, { watch: false })
})
afterAll(async () => {
  await g?.gw.close()
  await receiver?.close()
  await upstream?.close()
  await upstream6?.close()
  pki?.cleanup()
})

describe('a CONNECT tunnel', () => {
  it('is one span; the inner requests are its children, each with its upstream call under it', async () => {
    const url = `https://localhost:${upstream.port}`
    const { stdout } = await run('curl', ['-sS', '-x', g.gw.url, '--cacert', ca.caCert, `${url}/one`, `${url}/two`])
    const echoes = stdout.split(/(?<=\})(?=\{)/).map((t) => JSON.parse(t) as EchoReply)
    expect(echoes.map((e) => e.url)).toEqual(['/one', '/two'])
    const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'CONNECT localhost'))
    const tunnel = spans.find((x) => x.name === 'CONNECT localhost')
    expect(tunnel).toMatchObject({ kind: SPAN_SERVER, parentSpanId: '', attributes: { 'http.request.method': 'CONNECT', 'server.address': 'localhost', 'server.port': upstream.port, 'mtls_gateway.mode': 'connect' } })
    const inner = spans.filter((x) => x.kind === SPAN_SERVER && x.parentSpanId === tunnel?.spanId)
    expect(inner.map((x) => x.name)).toEqual(['GET echo', 'GET echo'])
    expect(inner.every((x) => x.traceId === tunnel?.traceId && x.attributes['mtls_gateway.mode'] === 'connect')).toBe(true)
    // The server the inner requests were addressed to is the CONNECT target (HTTP server conventions: server.address/port).
    for (const server of inner) expect(server.attributes).toMatchObject({ 'server.address': 'localhost', 'server.port': upstream.port })
    for (const [i, server] of inner.entries()) {
      const client = spans.find((x) => x.kind === SPAN_CLIENT && x.parentSpanId === server.spanId)
      // The endpoint's origin (https://localhost:<port>), not a default port.
      expect(client, `client span of inner request ${i}`).toMatchObject({ attributes: { 'server.address': 'localhost', 'server.port': upstream.port } })
    }
    // Bytes inside the tunnel are counted per inner request too (the TLS socket's plaintext).
    const innerLines = await accessLinesWhere(g, (l) => l.mode === 'connect', 2, 'the inner requests\' access lines')
    expect(innerLines).toHaveLength(2)
    for (const [i, l] of innerLines.entries()) expect(l.responseBytes as number, `inner request ${i}`).toBeGreaterThan(JSON.stringify(echoes[i]).length)
    expect(innerLines.every((l) => (l.requestBytes as number) > 0 && l.trace_id === tunnel?.traceId)).toBe(true)
    const upstreamParents = echoes.map((e) => String(e.headers.traceparent).split('-')[2])
    expect(upstreamParents.every((p) => spans.some((x) => x.kind === SPAN_CLIENT && x.spanId === p))).toBe(true)
  })

  it('an inner request with its own traceparent stays in the caller\'s trace and links the tunnel', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c'
    const agent = new ProxyAgent({ uri: g.gw.url, requestTls: { ca: readFileSync(ca.caCert, 'utf8') } })
    try {
      const r = await request(`https://localhost:${upstream.port}/own`, { dispatcher: agent, headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } })
      expect(r.statusCode).toBe(200)
      expect(String((await r.body.json() as EchoReply).headers.traceparent).split('-')[1]).toBe(traceId)
    } finally {
      await agent.close()
    }
    const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === traceId && x.kind === SPAN_SERVER) && s.filter((x) => x.name === 'CONNECT localhost').length >= 2)
    const server = spans.find((x) => x.traceId === traceId && x.kind === SPAN_SERVER)
    const tunnel = spans.filter((x) => x.name === 'CONNECT localhost').at(-1)
    expect(server?.parentSpanId).toBe('b7ad6b7169203331')
    expect(server?.links).toEqual([{ traceId: tunnel?.traceId, spanId: tunnel?.spanId }])
  })

  it('whose caller\'s TLS handshake fails ends with an error status naming the failure', async () => {
    // curl without the interception CA refuses the tunnel's leaf: the handshake fails, no inner request is made.
    const before = (await receiver.waitFor(() => true)).filter((x) => x.name === 'CONNECT localhost').length
    await expect(run('curl', ['-sS', '-x', g.gw.url, `https://localhost:${upstream.port}/refused`])).rejects.toThrow()
    const spans = await receiver.waitFor((s) => s.filter((x) => x.name === 'CONNECT localhost').length > before)
    const tunnel = spans.filter((x) => x.name === 'CONNECT localhost').at(-1)
    expect(tunnel?.status.code).toBe(2) // STATUS_CODE_ERROR
    // error.type is the access line's reason (a closed set); the status message says what failed.
    expect(tunnel?.attributes['error.type']).toBe('bad_request')
    expect(tunnel?.status.message).toMatch(/^CONNECT localhost:\d+: tls_handshake_failed: TLS alert unknown_ca from the caller/)
    expect(spans.filter((x) => x.kind === SPAN_SERVER && x.parentSpanId === tunnel?.spanId)).toEqual([])
    // Its access line (no request, so no span of its own) carries the tunnel span's ids, as every other line carries its span's.
    const line = await accessLineWhere(g, (l) => l.method === 'CONNECT' && String(l.error).includes('tls_handshake_failed'), 'the failed tunnel\'s access line')
    expect(line).toMatchObject({ reason: 'bad_request', trace_id: tunnel?.traceId, span_id: tunnel?.spanId })
  })

  it('an inner request Node\'s parser refused: its own server span, a child of the tunnel\'s, whose ids its access line carries', async () => {
    const tls = await openTunnel({ gatewayPort: Number(new URL(g.gw.url).port), authority: `localhost:${upstream.port}`, ca: readFileSync(ca.caCert) })
    const answer = await new Promise<string>((resolve) => {
      let text = ''
      tls.on('data', (b: Buffer) => (text += b.toString('latin1')))
      tls.once('close', () => resolve(text))
      tls.end('GET /x HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n')
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    const line = await eventuallyLine((l) => l.method === '-' && l.reason === 'bad_request')
    const spans = await receiver.waitFor((s) => s.some((x) => x.spanId === line.span_id) && s.some((x) => x.name === 'CONNECT localhost' && x.traceId === line.trace_id))
    const tunnel = spans.find((x) => x.name === 'CONNECT localhost' && x.traceId === line.trace_id)
    expect(spans.find((x) => x.spanId === line.span_id)).toMatchObject({ kind: SPAN_SERVER, name: 'HTTP', parentSpanId: tunnel?.spanId, attributes: { 'error.type': 'bad_request' } })
  })

  it('refused (its host not configured) is a failed server span of its own, whose ids its access line carries', async () => {
    const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_connect}', '-x', g.gw.url, 'https://nowhere.invalid:8443/']).catch((e: { stdout: string }) => e)
    expect(stdout).toBe('403')
    // Written once the gateway saw the connection close, which can be after curl exited.
    const line = await accessLineWhere(g, (l) => l.method === 'CONNECT' && l.reason === 'endpoint_not_configured', 'the refused CONNECT\'s access line')
    expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/)
    const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === line?.trace_id))
    expect(spans.find((x) => x.traceId === line?.trace_id)).toMatchObject({ spanId: line?.span_id, kind: SPAN_SERVER, name: 'CONNECT connect', status: { code: 2 }, attributes: { 'error.type': 'endpoint_not_configured', 'http.response.status_code': 403 } })
  })

  it('to an IPv6 literal: server.address is the address without brackets, the name brackets it, so neither reads as host:port', async () => {
    const url = `https://[::1]:${upstream6.port}`
    const { stdout } = await run('curl', ['-sS', '-x', g.gw.url, '--cacert', ca.caCert, `${url}/six`])
    expect((JSON.parse(stdout) as EchoReply).url).toBe('/six')
    const spans = await receiver.waitFor((s) => s.some((x) => x.attributes['server.port'] === upstream6.port && x.kind === SPAN_SERVER && x.attributes['http.request.method'] === 'CONNECT'))
    const tunnel = spans.find((x) => x.kind === SPAN_SERVER && x.attributes['http.request.method'] === 'CONNECT' && x.attributes['server.port'] === upstream6.port)
    expect(tunnel).toMatchObject({ name: 'CONNECT [::1]', attributes: { 'server.address': '::1', 'server.port': upstream6.port, 'mtls_gateway.mode': 'connect' } })
    const inner = await receiver.waitFor((s) => s.some((x) => x.kind === SPAN_CLIENT && x.traceId === tunnel?.traceId))
    const client = inner.find((x) => x.kind === SPAN_CLIENT && x.traceId === tunnel?.traceId)
    expect(client).toMatchObject({ name: 'GET echo6', attributes: { 'server.address': '::1', 'server.port': upstream6.port } })
    // No attribute of either span holds a host:port or URL string with the address unbracketed.
    for (const span of [tunnel, client]) {
      for (const [key, value] of Object.entries(span?.attributes ?? {})) expect(String(value), key).not.toMatch(/::1:\d/)
    }
  })
})
