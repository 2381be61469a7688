import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { send, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'

// Two endpoints (and a tenant) with different client bundles, one upstream: every request
// must present its own certificate, even when TLS sessions are resumed.
let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const alice = pki.writePair('alice', await pki.issue({ subject: 'CN=alice', issuer: pki.inter, usages: ['clientAuth'] }))
  const bob = pki.writePair('bob', await pki.issue({ subject: 'CN=bob', issuer: pki.inter, usages: ['clientAuth'] }))
  const acme = pki.writePair('acme', await pki.issue({ subject: 'CN=acme-tenant', issuer: pki.inter, usages: ['clientAuth'] }))
  const common = `    intermediates: ${pki.file('inter.crt')}\n      roots: ${pki.file('root.crt')}\n`
  const ep = (name: string, pair: { cert: string; key: string }, extra = ''): string =>
    `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}/t/{tenant}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    connections: 2\n    timeouts: { keepAlive: 1ms }\n${extra}    tls:\n      cert: ${pair.cert}\n      key: ${pair.key}\n  ${common}`
  const tenants = `    tenants:\n      acme:\n        tls: { cert: ${acme.cert}, key: ${acme.key}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${ep('alice', alice, tenants)}${ep('bob', bob)}`)
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('client bundles never cross', () => {
  it('alternating endpoints and tenants always present their own certificate, with sessions resumed per bundle', async () => {
    // keepAlive 1ms: every request opens a new connection, which resumes its bundle's session.
    const expected: Record<string, string> = { 'alice@zeta': 'CN=alice', 'bob@zeta': 'CN=bob', 'alice@acme': 'CN=acme-tenant', 'bob@acme': 'CN=bob' }
    for (let round = 0; round < 30; round++) {
      for (const route of Object.keys(expected)) {
        const echo = (await send(gw.url, `/proxy/${route}/who`)).json<EchoReply>()
        expect(echo.clientSubject, `${route} round ${round} (resumed: ${echo.resumed})`).toBe(expected[route])
        expect(echo.url).toBe(`/t/${route.split('@')[1]}/who`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    expect(upstream.stats.resumed).toBeGreaterThan(30)
  })

})
