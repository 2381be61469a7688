/**
 * A reload that takes tenancy away from an endpoint with per-tenant client bundles (its profile's
 * `tenancy: true` turned off) is refused, and the tenants keep presenting their own certificates.
 * Before, it was accepted: the tenant header of a forward request was then dropped and every
 * request, those naming tenant acme included, presented the endpoint's shared certificate.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { RELOAD_REFUSED, replaceFile, startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway

function config(tenancy: boolean): string {
  const tls = (cert: string, key: string): string => `{ cert: ${cert}, key: ${key}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }`
  return `profiles:
  - { name: tp, consumerKey: ck, consumerSecret: cs, tenancy: ${tenancy} }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: tp
    tls: ${tls(pki.file('client.crt'), pki.file('client.key'))}
    tenants:
      acme: { tls: ${tls(pki.file('acme.crt'), pki.file('acme.key'))} }
`
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  pki.writePair('acme', await pki.issue({ subject: 'CN=acme-own', issuer: pki.inter, usages: ['clientAuth'] }))
  g = await startOpsGateway(pki.dir, config(true), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** The client certificate the upstream saw for a forward request naming `tenant`. */
async function presentedFor(tenant: string): Promise<string | null> {
  const r = await send(g.gw.url, `https://api.partner.test:${upstream.port}/x`, { headers: { 'X-Gateway-Tenant': tenant } })
  expect(r.status, r.text).toBe(200)
  return r.json<EchoReply>().clientSubject
}

describe('per-tenant bundles and a reload that removes tenancy', () => {
  it('is refused, naming endpoints[0].tenants; acme keeps presenting its own certificate', async () => {
    expect(await presentedFor('acme')).toBe('CN=acme-own')
    expect(await presentedFor('globex')).toContain('CN=bot-runtime')
    replaceFile(join(pki.dir, 'gateway.yaml'), config(false))
    const result = await g.gw.ops?.reload('test')
    expect(result?.ok).toBe(false)
    const refused = g.lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).find((l) => l.msg === RELOAD_REFUSED)
    expect(refused?.problems?.join('\n')).toContain('endpoints[0].tenants: gives tenants their own client bundles, but endpoint "partner" has no tenancy')
    expect(await presentedFor('acme')).toBe('CN=acme-own')
  })
})
