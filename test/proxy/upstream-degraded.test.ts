/**
 * The upstream of a degraded bundle, against a real TLS server that requires a client
 * certificate: requests are refused before the pool (no connection), a dial that slips past is
 * refused by the connector without touching the network, and the TLS sessions cached while the
 * bundle was valid are dropped, so the first dial after recovery is a full handshake.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { createConnector, createUpstream, type Upstream, type UpstreamOptions } from '../../src/gateway/index.js'
import { createClientContext, loadBundle, type BundleValidity } from '../../src/tls/index.js'
import type { EndpointTlsConfig } from '../../src/config/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually } from '../ops/helpers.js'

let pki: TestPki
let server: RunningServer
let connections = 0
let degraded = false
const validity: BundleValidity = {
  faults: () => (degraded ? [{ reason: 'client_cert_expired', field: 'cert', msg: 'client certificate expired on 2026-01-01T00:00:00.000Z ("CN=bot-runtime")' }] : []),
}

function options(): UpstreamOptions {
  const tls: EndpointTlsConfig = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: [pki.file('inter.crt')], roots: [pki.file('root.crt')], clientRoots: [], systemRoots: false, minVersion: 'TLSv1.2', pins: [], crl: [] }
  const { bundle } = loadBundle(tls)
  const { context } = createClientContext(bundle as NonNullable<typeof bundle>, tls)
  if (!context) throw new Error('no secure context')
  return { endpoint: 'partner', context, validity, serverName: 'localhost', pins: [], connectMs: 5000, responseMs: 5000, idleMs: 5000, keepAliveMs: 5000, connections: 4 }
}

/** Dials once with the connector; resolves with the error or whether the session was resumed. */
function dial(connector: ReturnType<typeof createConnector>): Promise<{ error?: unknown; resumed?: boolean }> {
  return new Promise((resolve) => {
    const opts = { hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: String(server.port), servername: 'localhost' }
    connector(opts as Parameters<typeof connector>[0], (error, socket) => {
      if (error) return resolve({ error })
      const s = socket as TLSSocket
      const resumed = s.isSessionReused()
      // Close once the TLS 1.3 ticket arrived (the connector's own listener cached it first).
      const done = (): void => {
        clearTimeout(timer)
        s.destroy()
        resolve({ resumed })
      }
      const timer = setTimeout(done, 10_000)
      s.once('session', done)
    })
  })
}

beforeAll(async () => {
  pki = await createTestPki()
  // Every reply closes its connection, so each request is a new TLS connection that may resume.
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { connection: 'close' })
    res.end(JSON.stringify({ resumed: (req.socket as TLSSocket).isSessionReused() }))
  }
  server = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  server.server.on('connection', () => void connections++)
})
afterAll(async () => {
  await server?.close()
  pki?.cleanup()
})

describe('a degraded upstream', () => {
  it('refuses requests before the pool (no connection, the fault named) and drops the sessions cached while valid', async () => {
    const upstream: Upstream = createUpstream(options())
    const call = async (): Promise<{ resumed: boolean } | GatewayError> => {
      try {
        const res = await upstream.dispatcher.request({ origin: `https://localhost:${server.port}`, path: '/', method: 'GET' })
        return (await res.body.json()) as { resumed: boolean }
      } catch (e) {
        return e as GatewayError
      }
    }
    try {
      degraded = false
      expect(await call()).toEqual({ resumed: false })
      // The cache works: a new connection while valid resumes.
      await eventually(async () => ((await call()) as { resumed: boolean }).resumed, 10_000, 'a resumed session')
      const before = connections
      degraded = true
      const refused = await call()
      expect(refused).toBeInstanceOf(GatewayError)
      expect((refused as GatewayError).reason).toBe('client_cert_expired')
      expect((refused as GatewayError).message).toBe('endpoint "partner": client certificate expired on 2026-01-01T00:00:00.000Z ("CN=bot-runtime")')
      expect(upstream.refusal()?.reason).toBe('client_cert_expired')
      expect(connections).toBe(before)
      degraded = false
      expect(await call()).toEqual({ resumed: false })
    } finally {
      degraded = false
      await upstream.close()
    }
  })

  it('refuses a dial without a connection and drops the sessions cached while it was valid', async () => {
    const connector = createConnector(options())
    degraded = false
    expect((await dial(connector)).resumed).toBe(false)
    // The cache works: a second dial while valid resumes.
    expect((await dial(connector)).resumed).toBe(true)
    const before = connections
    degraded = true
    const refused = await dial(connector)
    expect((refused.error as GatewayError).reason).toBe('client_cert_expired')
    expect(connections).toBe(before)
    degraded = false
    expect((await dial(connector)).resumed).toBe(false)
  })
})
