/**
 * A caller whose TLS handshake with the listener itself (`listen.tls`) fails made no request, so there
 * is no head to read a trace context from; its access line still carries trace and span ids, those
 * of a server span of its own in a new trace (named `HTTP`, method `_OTHER`, as the HTTP server
 * conventions name a request whose method is not known), exported with the line's reason.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { LISTENER_ERROR, curl, listenerTlsYaml } from '../support/listener-tls.js'

let pki: TestPki
let upstream: RunningServer
let receiver: OtlpReceiver
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  receiver = await startOtlpReceiver()
  const dir = join(pki.dir, 'gateway')
  mkdirSync(dir)
  const tls = { cert: pki.file('server-chain.crt'), key: pki.file('server.key') }
  const tracing = `tracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\n`
  g = await startOpsGateway(dir, listenerTlsYaml(tls, endpointYaml('partner', upstream.port, clientTls(pki)), tracing), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await receiver?.close()
  await upstream?.close()
  pki?.cleanup()
})

it('a failed handshake with the listener: its line carries the ids of a server span of its own, exported with the reason', async () => {
  // The real curl without the gateway's CA: TLS alert unknown_ca, no request.
  await curl([`https://localhost:${g.gw.port}/proxy/partner/x`])
  await eventually(() => expect(g.access().some((l) => l.error === LISTENER_ERROR.unknownCa)).toBe(true))
  const line = g.access().find((l) => l.error === LISTENER_ERROR.unknownCa)
  expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/)
  expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/)
  const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === line?.trace_id))
  expect(spans.find((x) => x.traceId === line?.trace_id)).toMatchObject({
    spanId: line?.span_id, parentSpanId: '', kind: SPAN_KIND.SERVER, name: 'HTTP', status: { code: 2, message: 'bad_request' },
    attributes: { 'http.request.method': '_OTHER', 'error.type': 'bad_request', 'http.response.status_code': 400, 'mtls_gateway.mode': 'other' },
  })
})
