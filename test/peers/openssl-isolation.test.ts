/**
 * Credential isolation against OpenSSL's own server: `openssl s_server -Verify 2 -www` serves one
 * connection per request and its status page says whether the session was resumed ("Reused") and
 * which client certificate the session carries (a resumed session carries the certificate of the
 * handshake that made it). Endpoints sharing its host:port (by name, by IP literal with
 * `serverName`; TLS 1.3 tickets and TLS 1.2 sessions) each present their own certificate, resumed
 * or not; after a reload that rotates one's certificate, its next request presents the new one on
 * a new session.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startOpensslServer, type Peer } from '../support/peers.js'
import { createOpensslTestPki } from '../support/openssl-pki.js'
import type { TestPki } from '../support/pki.js'
import { replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let sServer: Peer
let g: OpsGateway
const pairs: Record<string, { cert: string; key: string }> = {}

function config(aliceCert = 'alice'): string {
  const ep = (name: string, host: string, pair: string, extra = ''): string =>
    `  - name: ${name}\n    url: https://${host}:${sServer.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls:\n      cert: ${pairs[pair]?.cert}\n      key: ${pairs[pair]?.key}\n      intermediates: ${pki.file('inter.crt')}\n      roots: ${pki.file('root.crt')}\n${extra}`
  return `endpoints:\n${ep('alice', 'api.partner.test', aliceCert)}${ep('bob', 'api.partner.test', 'bob')}${ep('carol', '127.0.0.1', 'carol', '      serverName: api.partner.test\n')}${ep('erin', 'api.partner.test', 'erin', '      maxVersion: TLSv1.2\n')}${ep('frank', '127.0.0.1', 'frank', '      maxVersion: TLSv1.2\n')}`
}

beforeAll(async () => {
  pki = await createOpensslTestPki()
  for (const cn of ['alice', 'alice-v2', 'bob', 'carol', 'erin', 'frank']) pairs[cn] = pki.writePair(cn, await pki.issue({ subject: `CN=${cn}`, issuer: pki.inter, usages: ['clientAuth'] }))
  sServer = await startOpensslServer({ cert: pki.file('server.crt'), key: pki.file('server.key'), chain: pki.file('inter.crt'), caFile: pki.file('root.crt') })
  g = await startOpsGateway(pki.dir, config(), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await sServer?.stop()
  pki?.cleanup()
})

/** The client certificate's subject CN and whether the session was resumed, as s_server's page says. */
async function page(name: string): Promise<{ cn: string; reused: boolean }> {
  const r = await send(g.gw.url, `/proxy/${name}/`)
  expect(r.status, `${name}: ${r.text}`).toBe(200)
  const cn = /Client certificate[\s\S]*?Subject: CN\s?=\s?([^\s,]+)/.exec(r.text)?.[1]
  expect(cn, r.text).toBeDefined()
  return { cn: cn as string, reused: /^Reused,/m.test(r.text) }
}

describe('openssl s_server: each endpoint\'s own certificate on new and resumed sessions', () => {
  it('five endpoints on one host:port, taking turns, each time a new connection', async () => {
    let reused = 0
    for (let round = 0; round < 8; round++) {
      for (const name of ['alice', 'bob', 'carol', 'erin', 'frank']) {
        const seen = await page(name)
        expect(seen.cn, `${name} round ${round} (resumed: ${seen.reused})`).toBe(name)
        if (seen.reused) reused++
      }
    }
    expect(reused).toBeGreaterThan(8)
  })

  it('a reload rotating alice\'s certificate: her next request presents the new one, on a new session', async () => {
    expect((await page('alice')).cn).toBe('alice')
    replaceFile(join(pki.dir, 'gateway.yaml'), config('alice-v2'))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const first = await page('alice')
    expect(first).toEqual({ cn: 'alice-v2', reused: false })
    for (let i = 0; i < 4; i++) expect((await page('alice')).cn).toBe('alice-v2')
    expect((await page('bob')).cn).toBe('bob')
  })
})
