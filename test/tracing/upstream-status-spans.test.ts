/**
 * A backend's error answer on the spans, as the HTTP conventions have it and as the gateway's own
 * `/gateway/` calls already did: the client span of the call is ERROR from 400 up, with the status
 * code as `error.type`; the server span from 500 up. A 2xx leaves both unset. (A 404 or 429 left the
 * client span unset and without a type.) Real gateway, real mTLS backend, real OTLP receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { endpointYaml, send } from '../support/gateway.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let upstream: RunningServer
let receiver: OtlpReceiver
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  // Answers /status/<code> with that code.
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      const code = Number(/^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 200)
      res.writeHead(code, { 'content-type': 'text/plain', 'content-length': 2 })
      res.end('ok')
    },
  })
  receiver = await startOtlpReceiver()
  g = await startOpsGateway(pki.dir, `tracing:\n  enabled: true\n  sampler: { ratio: 1 }\n  otlp: { endpoint: ${receiver.url} }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  await receiver?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('a backend\'s answer on the spans', () => {
  it('client span ERROR with the code as error.type from 400, server span from 500, none for 2xx', async () => {
    const codes = [200, 404, 429, 503] as const
    const traces = new Map<number, string>()
    for (const code of codes) {
      const trace = String(code).padStart(32, 'c')
      const r = await send(g.gw.url, `/proxy/partner/status/${code}`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })
      expect(r.status).toBe(code)
      traces.set(code, trace)
    }
    const spans = await receiver.waitFor((s) => codes.every((c) => s.filter((x) => x.traceId === traces.get(c)).length >= 2))
    const of = (code: number, kind: number): { status: unknown; type: unknown } => {
      const span = spans.find((x) => x.traceId === traces.get(code) && x.kind === kind)
      return { status: span?.status?.code ?? 0, type: span?.attributes['error.type'] }
    }
    // Status codes: 0 unset, 2 ERROR.
    expect(codes.map((c) => of(c, SPAN_KIND.CLIENT))).toEqual([{ status: 0, type: undefined }, { status: 2, type: '404' }, { status: 2, type: '429' }, { status: 2, type: '503' }])
    expect(codes.map((c) => of(c, SPAN_KIND.SERVER))).toEqual([{ status: 0, type: undefined }, { status: 0, type: undefined }, { status: 0, type: undefined }, { status: 2, type: '503' }])
  })
})
