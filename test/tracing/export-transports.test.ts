import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { privateKeyPem } from '../../src/tls/index.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { eventually, replaceFile, startOpsGateway } from '../ops/helpers.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type OtlpReceiverOptions } from '../support/otlp-receiver.js'

// The other ways to the collector: OTLP/gRPC (plain and TLS, with metadata) and OTLP/HTTP over
// TLS with the collector's CA and a client certificate for a collector that requires one.
let pki: TestPki
let upstream: RunningServer
let tls: Record<string, string>

beforeAll(async () => {
  pki = await createTestPki()
  tls = clientTls(pki)
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
})
afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

async function exportsThrough(receiverOptions: OtlpReceiverOptions, otlpYaml: (url: string) => string): Promise<OtlpReceiver> {
  const receiver = await startOtlpReceiver(receiverOptions)
  const gw = await startTestGateway(pki.dir, `tracing:\n  enabled: true\n  otlp:\n${otlpYaml(receiver.url)}endpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
  try {
    const traceId = '5'.repeat(32)
    expect((await send(gw.url, '/proxy/partner/x', { headers: { traceparent: `00-${traceId}-${'6'.repeat(16)}-01` } })).status).toBe(200)
    await receiver.waitFor((s) => s.some((x) => x.traceId === traceId && x.kind === SPAN_KIND.CLIENT))
    return receiver
  } finally {
    await gw.close()
    await receiver.close()
  }
}

describe('span export', () => {
  it('over OTLP/gRPC, with headers as metadata', async () => {
    const r = await exportsThrough({ protocol: 'grpc' }, (url) => `    endpoint: ${url}\n    protocol: grpc\n    headers: { x-tenant: ops-team }\n`)
    expect(r.headers[0]?.['x-tenant']).toBe('ops-team')
    expect(r.headers[0]?.['content-type']).toBe('application/grpc')
  })

  it('over OTLP/gRPC with TLS, trusting the collector by the configured CA', async () => {
    const r = await exportsThrough({ protocol: 'grpc', tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key') } }, (url) => `    endpoint: ${url}\n    protocol: grpc\n    tls: { ca: ${pki.file('root.crt')} }\n`)
    expect(r.spans.length).toBeGreaterThan(0)
  })

  it('a renewed client certificate (tracing.otlp.tls files) reaches the exporter on reload, no restart', async () => {
    const other = await createTestPki()
    const receiver = await startOtlpReceiver({ tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') } })
    const cert = pki.write('otlp-client.crt', pki.client.pem + pki.inter.pem)
    const key = pki.write('otlp-client.key', privateKeyPem(pki.client))
    const g = await startOpsGateway(pki.dir, `tracing:\n  enabled: true\n  otlp:\n    endpoint: ${receiver.url}\n    tls: { ca: ${pki.file('root.crt')}, cert: ${cert}, key: ${key} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    try {
      const traced = async (id: string): Promise<void> => {
        expect((await send(g.gw.url, '/proxy/partner/x', { headers: { traceparent: `00-${id}-${'6'.repeat(16)}-01` } })).status).toBe(200)
        await receiver.waitFor((s) => s.some((x) => x.traceId === id && x.kind === SPAN_KIND.CLIENT))
      }
      await traced('7'.repeat(32))
      const before = g.gw.ref.current
      replaceFile(key, privateKeyPem(other.client))
      replaceFile(cert, other.client.pem + other.inter.pem)
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload the renewed files start')
      // The collector now accepts only the new certificate's CA: spans arrive only through it.
      receiver.trustOnly(other.file('root.crt'))
      await traced('8'.repeat(32))
    } finally {
      await g.gw.close()
      await receiver.close()
      other.cleanup()
    }
  })

  it('over OTLP/HTTP with TLS and a client certificate the collector requires', async () => {
    const receiver = { tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') } }
    pki.write('client-chain.crt', pki.client.pem + pki.inter.pem)
    const r = await exportsThrough(receiver, (url) => `    endpoint: ${url}\n    tls: { ca: ${pki.file('root.crt')}, cert: ${pki.file('client-chain.crt')}, key: ${pki.file('client.key')} }\n`)
    expect(r.spans.length).toBeGreaterThan(0)
  })
})
