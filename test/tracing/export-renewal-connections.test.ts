/**
 * Renewed OTLP client files (tracing.otlp.tls) switch export to a new exporter on reload; the
 * one replaced must let go of its connection to the collector. A collector that keeps idle
 * connections (no idle timeout) otherwise holds one more open connection, and the gateway one
 * more socket and agent, per renewal for the process's life.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { privateKeyPem } from '../../src/tls/index.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { eventually, replaceFile, startOpsGateway } from '../ops/helpers.js'
import { SPAN_KIND, startOtlpReceiver } from '../support/otlp-receiver.js'

const RENEWALS = 4
let pki: TestPki
let upstream: RunningServer

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
})
afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

it(`after ${RENEWALS} renewals of the OTLP client certificate, the collector holds one connection from the gateway`, async () => {
  const receiver = await startOtlpReceiver({ tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }, keepIdle: true })
  const cert = pki.write('otlp-renewed.crt', pki.client.pem + pki.inter.pem)
  const key = pki.write('otlp-renewed.key', privateKeyPem(pki.client))
  const g = await startOpsGateway(pki.dir, `tracing:\n  enabled: true\n  otlp:\n    endpoint: ${receiver.url}\n    tls: { ca: ${pki.file('root.crt')}, cert: ${cert}, key: ${key} }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
  try {
    const traced = async (n: number): Promise<void> => {
      const id = n.toString(16).padStart(32, 'a')
      expect((await send(g.gw.url, '/proxy/partner/x', { headers: { traceparent: `00-${id}-${'6'.repeat(16)}-01` } })).status).toBe(200)
      await receiver.waitFor((s) => s.some((x) => x.traceId === id && x.kind === SPAN_KIND.CLIENT))
    }
    await traced(0)
    for (let i = 1; i <= RENEWALS; i++) {
      const renewed = await pki.issue({ subject: `CN=otlp-client-${i},O=mtls-gateway tests`, issuer: pki.inter, usages: ['clientAuth'] })
      const before = g.gw.ref.current
      replaceFile(key, privateKeyPem(renewed))
      replaceFile(cert, renewed.pem + pki.inter.pem)
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload the renewed files start')
      // Spans after the switch go over the new exporter's connection.
      await eventually(async () => {
        await traced(i * 100 + Math.floor(Math.random() * 99))
        return true
      }, 20_000, 'a span through the renewed exporter')
    }
    // The replaced exporters' connections close (the collector never closes them itself).
    await eventually(async () => (await receiver.connections()) <= 1, 20_000, 'the replaced exporters\' connections closed')
  } finally {
    await g.gw.close()
    await receiver.close()
  }
}, 120_000)
