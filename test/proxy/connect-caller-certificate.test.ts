import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { accessLineWhere, eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { heldHandshakeRelay } from '../support/held-handshake-relay.js'
import { exchange } from '../support/exchange.js'

// A caller app identified by its TLS client certificate (callers.apps[].clientCertificate) on a
// listener with clientCa: the same certificate that is admitted in route mode and on the
// absolute-form forward proxy is admitted on CONNECT too (it was refused 407: the CONNECT
// ignored the certificate), and each inner request judges it again under its own snapshot, so a
// reload that removes the app refuses the open tunnel's next request as a fresh start would.
// Likewise a reload that replaces listen.tls.clientCa (no longer trusting the certificate's CA):
// a fresh start would refuse the certificate, so the open connections' next requests are
// refused too, kept-alive route-mode connections and tunnels alike (rev-S: they were served).

let pki: TestPki
let other: TestPki
let upstream: RunningServer
let g: OpsGateway
let ca: { caCert: string; caKey: string }
let caller: { cert: string; key: string }
let yaml: (subject: string, interception?: boolean) => string

beforeAll(async () => {
  pki = await createTestPki('p256')
  other = await createTestPki('p256')
  copyFileSync(pki.file('root.crt'), join(pki.dir, 'client-ca.pem'))
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  caller = pki.writePair('caller', await pki.issue({ subject: 'CN=trusted-caller', issuer: pki.inter, usages: ['clientAuth'] }), { chain: [pki.inter] })
  yaml = (subject, interception = true) => `listen:
  host: 127.0.0.1
  port: 0
  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')}, clientCa: ${join(pki.dir, 'client-ca.pem')} }
store: { kind: sqlite, file: ${join(pki.dir, 'gw.db')} }
callers:
  apps:
    - { clientId: cert-app, audience: aud, endpoints: [partner], clientCertificate: { subject: ${subject} } }
${interception ? `interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }` : ''}
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`
  g = await startOpsGateway(pki.dir, yaml('trusted-caller'))
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  other?.cleanup()
})

/** TLS to the gateway with the caller certificate. */
function callerConnection(): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: g.gw.port, servername: 'localhost', ca: readFileSync(pki.file('root.crt')), cert: readFileSync(caller.cert), key: readFileSync(caller.key) }, () => resolve(s))
    s.once('error', reject)
  })
}

/** TLS to the gateway with the caller certificate, CONNECT, then TLS to the minted leaf inside. */
async function openTunnel(): Promise<{ connect: { status: number; body: string }; inner?: TLSSocket }> {
  const outer = await callerConnection()
  const authority = `api.partner.test:${upstream.port}`
  const connect = await exchange(outer, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  if (connect.status !== 200) {
    outer.destroy()
    return { connect }
  }
  const inner = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: outer, servername: 'api.partner.test', ca: readFileSync(ca.caCert) }, () => resolve(s))
    s.once('error', reject)
  })
  return { connect, inner }
}

const get = (s: TLSSocket, path: string): Promise<{ status: number; body: string }> =>
  exchange(s, `GET ${path} HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`)

describe('CONNECT by a caller identified by its client certificate', () => {
  it('is admitted like the other ways in, and a reload that removes the app refuses the open tunnel', async () => {
    const { connect, inner } = await openTunnel()
    expect(connect.status, connect.body).toBe(200)
    if (!inner) throw new Error('no tunnel')
    try {
      const first = await get(inner, '/in-tunnel')
      expect(first.status, first.body).toBe(200)
      expect((JSON.parse(first.body) as EchoReply).url).toBe('/in-tunnel')
      const line = await accessLineWhere(g, (e) => e.mode === 'connect' && e.method === 'GET', 'the inner request\'s access line')
      expect(line?.caller).toBe('cert-app')
      // The app's certificate subject changes: a fresh start would not know this certificate.
      replaceFile(join(pki.dir, 'gateway.yaml'), yaml('someone-else'))
      await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 20_000, 'the reload')
      const after = await get(inner, '/after-reload')
      expect(after.status, after.body).toBe(407)
    } finally {
      inner.destroy()
    }
    // And a new CONNECT with the certificate is refused, as on a fresh start with this file.
    expect((await openTunnel()).connect.status).toBe(407)
  })
})

describe('a reload that stops trusting the caller certificate\'s CA (listen.tls.clientCa replaced)', () => {
  it('refuses the next request of every open connection that certificate identified, as a fresh start would refuse the certificate', async () => {
    replaceFile(join(pki.dir, 'gateway.yaml'), yaml('trusted-caller'))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const route = await callerConnection()
    const { connect, inner } = await openTunnel()
    try {
      expect(connect.status, connect.body).toBe(200)
      if (!inner) throw new Error('no tunnel')
      const routed = (path: string): Promise<{ status: number; body: string }> => exchange(route, `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`)
      expect((await routed('/before')).status).toBe(200)
      expect((await get(inner, '/before')).status).toBe(200)
      // A client CA file that still holds the certificate's root changes nothing for them.
      replaceFile(join(pki.dir, 'client-ca.pem'), readFileSync(other.file('root.crt'), 'utf8') + readFileSync(pki.file('root.crt'), 'utf8'))
      expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
      expect((await routed('/still')).status).toBe(200)
      expect((await get(inner, '/still')).status).toBe(200)
      replaceFile(join(pki.dir, 'client-ca.pem'), readFileSync(other.file('root.crt'), 'utf8'))
      expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
      // Control: a new connection with the certificate is not identified by it any more (route mode: 401).
      const fresh = await callerConnection()
      try {
        expect((await exchange(fresh, 'GET /proxy/partner/fresh HTTP/1.1\r\nHost: gateway\r\n\r\n')).status).toBe(401)
      } finally {
        fresh.destroy()
      }
      const after = await routed('/after')
      expect(after.status, after.body).toBe(401)
      const inTunnel = await get(inner, '/after')
      expect(inTunnel.status, inTunnel.body).toBe(407)
    } finally {
      route.destroy()
      inner?.destroy()
      replaceFile(join(pki.dir, 'client-ca.pem'), readFileSync(pki.file('root.crt'), 'utf8'))
    }
  })
})

describe('a reload during a caller\'s handshake that stops trusting its certificate\'s CA', () => {
  it('refuses the connection\'s requests: the handshake was verified under the old client CA, not the one in force when it completed', async () => {
    replaceFile(join(pki.dir, 'gateway.yaml'), yaml('trusted-caller'))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const relay = await heldHandshakeRelay(g.gw.port)
    let s: TLSSocket | undefined
    try {
      const connected = new Promise<TLSSocket>((resolve, reject) => {
        const c = tlsConnect({ host: '127.0.0.1', port: relay.port, servername: 'localhost', ca: readFileSync(pki.file('root.crt')), cert: readFileSync(caller.cert), key: readFileSync(caller.key) }, () => resolve(c))
        c.once('error', reject)
      })
      // The caller's second flight is held: the gateway's handshake is under way, begun under pki's root.
      await eventually(() => relay.held() > 0, 20_000, 'the caller\'s certificate flight at the relay')
      replaceFile(join(pki.dir, 'client-ca.pem'), readFileSync(other.file('root.crt'), 'utf8'))
      expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
      relay.release()
      s = await connected
      const answer = await exchange(s, 'GET /proxy/partner/straddled HTTP/1.1\r\nHost: gateway\r\n\r\n')
      expect(answer.status, answer.body).toBe(401)
    } finally {
      s?.destroy()
      await relay.close()
      replaceFile(join(pki.dir, 'client-ca.pem'), readFileSync(pki.file('root.crt'), 'utf8'))
      expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    }
  })
})

describe('a reload that turns TLS interception off', () => {
  it('closes an idle open tunnel at the reload, as a fresh start refuses its CONNECT (a request in flight: test/proxy/reload-tunnels.test.ts)', async () => {
    replaceFile(join(pki.dir, 'gateway.yaml'), yaml('trusted-caller'))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const { connect, inner } = await openTunnel()
    try {
      expect(connect.status, connect.body).toBe(200)
      if (!inner) throw new Error('no tunnel')
      expect((await get(inner, '/before')).status).toBe(200)
      const closed = new Promise<void>((resolve) => inner.once('close', () => resolve()))
      replaceFile(join(pki.dir, 'gateway.yaml'), yaml('trusted-caller', false))
      expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
      expect((await openTunnel()).connect.status).toBe(403)
      await closed
    } finally {
      inner?.destroy()
      replaceFile(join(pki.dir, 'gateway.yaml'), yaml('trusted-caller'))
    }
  })
})
