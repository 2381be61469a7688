/**
 * Through the running gateway: an endpoint with `{tenant}` in its host and `originPools: 2`, five
 * tenants named in route mode (any caller may name any tenant here): every call answers, at most two
 * pools (and their connections) stay open, and `mtls_gateway_upstream_pools_evicted_total` counts
 * the three closed. Before, each tenant kept a pool and a kept-alive connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let open = 0

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  upstream.server.on('secureConnection', (s) => {
    open++
    s.once('close', () => void open--)
  })
  const tls = `{ cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')}, serverName: localhost }`
  g = await startOpsGateway(pki.dir, `endpoints:\n  - name: partner\n    url: https://{tenant}.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    originPools: 2\n    timeouts: { keepAlive: 60s }\n    tls: ${tls}\n`, { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('endpoints[].originPools through the gateway', () => {
  it('five tenants, a cap of two: all answered, two pools kept, three evictions counted', async () => {
    for (const t of ['t1', 't2', 't3', 't4', 't5']) {
      const r = await send(g.gw.url, `/proxy/partner@${t}/x`)
      expect(r.status, r.text).toBe(200)
    }
    const metrics = await scrape(g.adminUrl)
    expect(valueOf(metrics, 'mtls_gateway_upstream_pools_evicted_total', { endpoint: 'partner' })).toBe(3)
    await eventually(() => open <= 2, 20_000, 'the evicted pools\' connections to close')
  })
})
