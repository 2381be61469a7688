import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'

// Connection caps: a connection over the per-address or the total cap is closed as soon as
// it is accepted (nothing read, nothing answered), and the connections already accepted
// keep being served. Sources 127.0.0.2/127.0.0.3 are other loopback addresses (Linux).
let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
const open: RawClient[] = []

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: echo })
  const tls = clientTls(pki)
  g = await startOpsGateway(pki.dir, `listen:\n  connections: { max: 5, perAddress: 3 }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
})

afterAll(async () => {
  for (const c of open) c.socket.destroy()
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('connection caps', () => {
  it('refuses over the per-address and the total cap on accept, and keeps serving the accepted ones', async () => {
    const port = g.gw.port
    for (let i = 0; i < 3; i++) open.push(await rawClient(port, '127.0.0.1'))
    const overAddress = await rawClient(port, '127.0.0.1')
    await overAddress.closed(10_000)
    expect(overAddress.received().length).toBe(0)
    open.push(await rawClient(port, '127.0.0.2'))
    const served = await rawClient(port, '127.0.0.2')
    open.push(served)
    const overTotal = await rawClient(port, '127.0.0.3')
    await overTotal.closed(10_000)
    expect(overTotal.received().length).toBe(0)
    // An accepted connection is served while the caps refuse others.
    served.socket.write('GET /proxy/partner/served HTTP/1.1\r\nHost: a\r\n\r\n')
    await eventually(() => served.received().toString().includes('"url":"/served"'), 10_000, 'the accepted connection to be served')
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_connections_refused_total', { listener: 'proxy', reason: 'per_address' })).toBeGreaterThanOrEqual(1)
    expect(valueOf(m, 'mtls_gateway_connections_refused_total', { listener: 'proxy', reason: 'max_connections' })).toBeGreaterThanOrEqual(1)
    // Freed capacity is usable again.
    for (const c of open.splice(0)) c.socket.destroy()
    await eventually(async () => (await send(g.gw.url, '/proxy/partner/after')).status === 200, 10_000, 'a request after the connections closed')
  })
})
