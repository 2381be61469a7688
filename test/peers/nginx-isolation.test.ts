/**
 * Credential isolation against a server nobody here wrote: nginx verifying client certificates
 * and reporting, per request, the DN it verified, whether the TLS session was resumed (a resumed
 * session carries the identity of the handshake that made it) and the SNI. Several endpoints reach
 * the same nginx at the same host:port, by name (`resolve`) and by IP literal (with and without
 * `serverName`), over TLS 1.3 tickets and TLS 1.2 session IDs; each must present its own
 * certificate, also on resumed sessions. After a reload that rotates a client certificate, removes
 * the anchor of the server's chain or tightens `serverName`, the next request uses the new material:
 * no pooled connection or cached session of the old bundle carries it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startNginx, verifyingNginxServer, type Peer } from '../support/peers.js'
import { createTestPki, verifyingFiles, type TestPki } from '../support/pki.js'
import { eventually, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { privateKeyPem } from '../../src/tls/index.js'

let pki: TestPki
let otherRoot: TestPki
let nginx: Peer
let g: OpsGateway
const pairs: Record<string, { cert: string; key: string }> = {}

interface NginxSaw {
  dn: string
  reused: boolean
  sni: string
}

async function call(route: string): Promise<NginxSaw> {
  const r = await send(g.gw.url, `/proxy/${route}/who`)
  expect(r.status, `${route}: ${r.text}`).toBe(200)
  const m = /^dn=(.*) reused=(.*) sni=(.*)$/.exec(r.text.trim())
  if (!m) throw new Error(`unexpected nginx reply: ${r.text}`)
  return { dn: m[1] as string, reused: m[2] === 'r', sni: m[3] as string }
}

// The pool closes idle connections after 1 ms: (nearly) every request dials and offers its bundle's session.
const endpoint = (name: string, url: string, pair: string, extra = '', roots = pki.file('root.crt')): string =>
  `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    timeouts: { keepAlive: 1ms }\n    tls:\n      cert: ${pairs[pair]?.cert}\n      key: ${pairs[pair]?.key}\n      intermediates: ${pki.file('inter.crt')}\n      roots: ${roots}\n${extra}`

function config(o: { alice?: string; aliceRoots?: string; bobServerName?: string } = {}): string {
  const port = nginx.port
  return `endpoints:\n${[
    // clientRoots: the local check of alice's own chain still has its root when `roots` (the server's anchors) changes.
    endpoint('alice', `https://api.partner.test:${port}`, o.alice ?? 'alice', `      clientRoots: ${pki.file('root.crt')}\n`, o.aliceRoots),
    endpoint('bob', `https://api.partner.test:${port}`, 'bob', o.bobServerName ? `      serverName: ${o.bobServerName}\n` : ''),
    endpoint('carol', `https://127.0.0.1:${port}`, 'carol', '      serverName: api.partner.test\n'),
    endpoint('dave', `https://127.0.0.1:${port}`, 'dave'),
    endpoint('erin', `https://api.partner.test:${port}`, 'erin', '      maxVersion: TLSv1.2\n'),
    endpoint('frank', `https://api.partner.test:${port}`, 'frank', '      maxVersion: TLSv1.2\n'),
  ].join('')}`
}

beforeAll(async () => {
  pki = await createTestPki()
  otherRoot = await createTestPki()
  for (const cn of ['alice', 'alice-v2', 'alice-v3', 'bob', 'carol', 'dave', 'erin', 'frank']) {
    pairs[cn] = pki.writePair(cn, await pki.issue({ subject: `CN=${cn}`, issuer: pki.inter, usages: ['clientAuth'] }))
  }
  nginx = await startNginx({
    server: verifyingNginxServer(verifyingFiles(pki), 2, `    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:isolation:1m;
    ssl_session_tickets on;
    location / {
      default_type text/plain;
      return 200 "dn=$ssl_client_s_dn reused=$ssl_session_reused sni=$ssl_server_name\\n";
    }`),
  })
  g = await startOpsGateway(pki.dir, config())
})

afterAll(async () => {
  await g?.gw.close()
  await nginx?.stop()
  pki?.cleanup()
  otherRoot?.cleanup()
})

const reloaded = (): number => g.lines.filter((l) => l.includes('"config reloaded"')).length

async function reloadWith(text: string): Promise<void> {
  const before = reloaded()
  replaceFile(join(pki.dir, 'gateway.yaml'), text)
  const result = await g.gw.ops?.reload('test')
  expect(result).toMatchObject({ ok: true })
  expect(reloaded()).toBeGreaterThan(before)
}

describe('nginx sees each endpoint\'s own certificate, resumed or not', () => {
  it('six endpoints on one host:port (names, IP literals, serverName, TLS 1.2 session IDs and 1.3 tickets) never present another\'s certificate', async () => {
    const expected: Record<string, { dn: string; sni: string }> = {
      alice: { dn: 'CN=alice', sni: 'api.partner.test' },
      bob: { dn: 'CN=bob', sni: 'api.partner.test' },
      carol: { dn: 'CN=carol', sni: 'api.partner.test' },
      dave: { dn: 'CN=dave', sni: '' },
      erin: { dn: 'CN=erin', sni: 'api.partner.test' },
      frank: { dn: 'CN=frank', sni: 'api.partner.test' },
    }
    let resumed = 0
    for (let round = 0; round < 12; round++) {
      for (const [name, want] of Object.entries(expected)) {
        const saw = await call(name)
        expect(saw.dn, `${name} round ${round} (resumed: ${saw.reused})`).toBe(want.dn)
        expect(saw.sni === '-' ? '' : saw.sni).toBe(want.sni)
        if (saw.reused) resumed++
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    // Sessions were resumed (so the test covered resumption), each within its own endpoint.
    expect(resumed).toBeGreaterThan(12)
  })
})

describe('a reload that changes a bundle: the next request uses the new material', () => {
  it('a rotated client certificate (new file) is the next request\'s, never a resumed session of the old one', async () => {
    for (let i = 0; i < 3; i++) expect((await call('alice')).dn).toBe('CN=alice')
    await reloadWith(config({ alice: 'alice-v2' }))
    for (let i = 0; i < 8; i++) {
      const saw = await call('alice')
      expect(saw.dn, `request ${i} after the reload (resumed: ${saw.reused})`).toBe('CN=alice-v2')
      if (i === 0) expect(saw.reused).toBe(false)
    }
    // The others kept their own.
    expect((await call('bob')).dn).toBe('CN=bob')
  })

  it('the same certificate file rewritten in place: once the watcher reloads, every request presents the new certificate', async () => {
    await reloadWith(config({ alice: 'alice-v2' }))
    for (let i = 0; i < 3; i++) expect((await call('alice')).dn).toBe('CN=alice-v2')
    const before = reloaded()
    const v3 = await pki.issue({ subject: 'CN=alice-v3-in-place', issuer: pki.inter, usages: ['clientAuth'] })
    // Key first, then the certificate: a reload between the two is refused (key of another certificate).
    replaceFile(pairs['alice-v2']?.key as string, privateKeyPem(v3, 'pkcs8'))
    replaceFile(pairs['alice-v2']?.cert as string, v3.pem)
    await eventually(() => reloaded() > before, 20_000, 'the watcher\'s reload')
    await eventually(async () => (await call('alice')).dn === 'CN=alice-v3-in-place', 20_000, 'the rewritten certificate')
    for (let i = 0; i < 6; i++) expect((await call('alice')).dn).toBe('CN=alice-v3-in-place')
  })

  it('an anchor removed from `roots`: the next request is refused as untrusted, not carried by a session verified under the old anchor', async () => {
    await reloadWith(config())
    for (let i = 0; i < 3; i++) expect((await call('alice')).dn).toBe('CN=alice')
    await reloadWith(config({ aliceRoots: otherRoot.file('root.crt') }))
    for (let i = 0; i < 4; i++) {
      const r = await send(g.gw.url, '/proxy/alice/who')
      expect(r.status, r.text).toBe(502)
      expect(r.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/alice/)
    }
    expect((await call('bob')).dn).toBe('CN=bob')
  })

  it('a tightened serverName the server certificate does not carry: the next request is refused (no session of the old name resumes)', async () => {
    await reloadWith(config())
    for (let i = 0; i < 3; i++) expect((await call('bob')).dn).toBe('CN=bob')
    await reloadWith(config({ bobServerName: 'other.partner.test' }))
    for (let i = 0; i < 4; i++) {
      const r = await send(g.gw.url, '/proxy/bob/who')
      expect(r.status, r.text).toBe(502)
      expect(r.text).toContain('other.partner.test')
    }
    expect((await call('alice')).dn).toBe('CN=alice')
  })
})
