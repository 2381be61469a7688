/**
 * One test per upstream failure the gateway names: real handshakes on 127.0.0.1 against
 * servers holding certificates minted here (wrong CA, missing intermediate, wrong name,
 * expired, not yet valid, revoked), servers that refuse the client or the TLS version,
 * and sockets that refuse, reset, stall. Every one must end as the exact JSON shape
 * `{"errors":[{"msg":…,"code":502|504}]}` naming the endpoint and the cause — and leave
 * the gateway serving, with no socket left behind.
 */
import 'reflect-metadata'
import { createHash, createPublicKey, randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import * as x509 from '@peculiar/x509'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import type { Issued } from '../../src/tls/index.js'
import { endpointYaml, send, startTestGateway, type Reply } from '../support/gateway.js'
import { refusingPort } from '../support/peers.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'

const DAY = 86_400_000
const STALLS = ['stall-1', 'stall-2', 'stall-3', 'stall-4', 'stall-5', 'stall-6']

let pki: TestPki
let gw: RunningGateway
const servers: RunningServer[] = []
const tcpServers: TcpServer[] = []
const ports: Record<string, number> = {}

/** The SPKI SHA-256 pin of a certificate, computed independently of the gateway's code. */
function pinOf(issued: Issued): string {
  const der = createPublicKey(issued.pem).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('base64')
}

/** A CRL signed by `issuer` listing `revoked`. */
async function crlOf(issuer: Issued, revoked: Issued[]): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + 7 * DAY),
    entries: revoked.map((r) => ({ serialNumber: r.cert.serialNumber, revocationDate: new Date(Date.now() - 30_000), reason: x509.X509CrlReason.keyCompromise })),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    signingKey: issuer.keys.privateKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
  })
  // OpenSSL reads only the "X509 CRL" PEM label; @peculiar/x509 writes "CRL".
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n'
}

/** A raw TCP server whose connections get `onSocket`. */
async function startTcp(onSocket: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>()
  const srv = createTcpServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
    onSocket(s)
  })
  const close = srv.close.bind(srv)
  srv.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy()
    return close(cb)
  }) as typeof srv.close
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  tcpServers.push(srv)
  return (srv.address() as AddressInfo).port
}

async function server(name: string, o: Parameters<typeof startMtlsServer>[0]): Promise<void> {
  const s = await startMtlsServer(o)
  servers.push(s)
  ports[name] = s.port
}

/** Asserts the exact error shape, the status, and that msg names the endpoint and matches the cause. */
function expectGatewayError(r: Reply, status: number, endpoint: string, cause: RegExp): string {
  expect(r.status, r.text).toBe(status)
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  const body = r.json<{ errors: { msg: string; code: number }[] }>()
  expect(body).toEqual({ errors: [{ msg: expect.any(String), code: status }] })
  const msg = body.errors[0]!.msg
  expect(msg).toContain(`endpoint "${endpoint}"`)
  expect(msg).toMatch(cause)
  return msg
}

const call = (endpoint: string, path = '/x'): Promise<Reply> => send(gw.url, `/proxy/${endpoint}${path}`)

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

beforeAll(async () => {
  pki = await createTestPki()
  const { root, inter } = pki
  const names = ['api.partner.test']

  // The good server and the bad certificates.
  const otherRoot = await pki.issue({ subject: 'CN=Other Root CA,O=elsewhere', ca: true })
  const otherServer = await pki.issue({ subject: 'CN=api.partner.test,O=elsewhere', issuer: otherRoot, usages: ['serverAuth'], names })
  const wrongName = await pki.issue({ subject: 'CN=other.example', issuer: inter, usages: ['serverAuth'], names: ['other.example'] })
  const expired = await pki.issue({ subject: 'CN=api.partner.test', issuer: inter, usages: ['serverAuth'], names, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) })
  const notYet = await pki.issue({ subject: 'CN=api.partner.test', issuer: inter, usages: ['serverAuth'], names, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) })
  const revoked = await pki.issue({ subject: 'CN=api.partner.test', issuer: inter, usages: ['serverAuth'], names })
  const rsaServer = await pki.issue({ subject: 'CN=api.partner.test,O=rsa', kind: 'rsa2048', issuer: inter, usages: ['serverAuth'], names })
  pki.write('other-root.crt', otherRoot.pem)
  pki.writePair('other-server', otherServer)
  pki.writePair('wrong-name', wrongName, { chain: [inter] })
  pki.writePair('expired', expired, { chain: [inter] })
  pki.writePair('not-yet', notYet, { chain: [inter] })
  pki.writePair('revoked', revoked, { chain: [inter] })
  pki.writePair('rsa-server', rsaServer, { chain: [inter] })
  // The intermediate's CRL revokes one server; the root's (empty) CRL covers the intermediate.
  pki.write('inter.crl', await crlOf(inter, [revoked]))
  pki.write('root.crl', await crlOf(root, []))

  const ca = pki.file('root.crt')
  const chainKey = (base: string): { cert: string; key: string } => ({ cert: pki.file(`${base}.crt`), key: pki.file(`${base}.key`) })
  await server('good', { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca })
  await server('other-ca', { ...chainKey('other-server'), ca })
  await server('leaf-only', { cert: pki.file('server.crt'), key: pki.file('server.key'), ca })
  await server('wrong-name', { ...chainKey('wrong-name'), ca })
  await server('expired', { ...chainKey('expired'), ca })
  await server('not-yet', { ...chainKey('not-yet'), ca })
  await server('revoked', { ...chainKey('revoked'), ca })
  await server('rsa', { ...chainKey('rsa-server'), ca })
  // Requires client certificates from another CA: ours is refused (a Node server just closes).
  await server('foreign-clients', { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('other-root.crt') })
  await server('tls12', { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca, maxVersion: 'TLSv1.2' })
  await server('silent', { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca, handler: () => undefined })
  ports.refused = await refusingPort()
  ports['reset-on-connect'] = await startTcp((s) => s.resetAndDestroy())
  ports['reset-on-hello'] = await startTcp((s) => s.once('data', () => s.resetAndDestroy()))
  ports['closed-on-hello'] = await startTcp((s) => s.once('data', () => s.end()))
  // Reads (so it sees the gateway's FIN and closes its end) but never answers.
  ports.blackhole = await startTcp((s) => s.resume())

  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: ca }
  const ep = (name: string, port: number, extraTls: Record<string, string | string[]> = {}, extra = ''): string =>
    endpointYaml(name, port, { ...tls, ...extraTls }, extra)
  const p = (name: string): number => ports[name] as number
  const randomPin = (): string => `sha256/${randomBytes(32).toString('base64')}`
  const crls = [pki.file('inter.crl'), pki.file('root.crl')]
  const endpoints = [
    ep('good', p('good')),
    ep('untrusted', p('other-ca')),
    ep('leaf-only', p('leaf-only')),
    // Listed before 'renamed' (same host:port), so the forward-proxy way in picks this one.
    ep('wrong-name', p('wrong-name')),
    ep('renamed', p('wrong-name'), { serverName: 'other.example' }),
    ep('expired', p('expired')),
    ep('not-yet', p('not-yet')),
    ep('pin-bad', p('good'), { pins: [randomPin()] }),
    ep('pin-leaf', p('good'), { pins: [randomPin(), `sha256/${pinOf(pki.server)}`] }),
    ep('pin-inter', p('good'), { pins: [pinOf(pki.inter)] }),
    ep('pin-rsa', p('rsa'), { pins: [`sha256/${pinOf(rsaServer)}`] }),
    ep('pin-rsa-bad', p('rsa'), { pins: [pinOf(pki.server)] }),
    ep('revoked', p('revoked'), { crl: crls }),
    ep('crl-ok', p('good'), { crl: crls }),
    ep('crl-leaf-only', p('good'), { crl: [pki.file('inter.crl')] }),
    ep('client-refused', p('foreign-clients')),
    ep('client-refused-12', p('foreign-clients'), { maxVersion: 'TLSv1.2' }),
    ep('tls13-only', p('tls12'), { minVersion: 'TLSv1.3' }),
    ep('refused', p('refused')),
    ep('reset-on-connect', p('reset-on-connect')),
    ep('reset-on-hello', p('reset-on-hello')),
    ep('closed-on-hello', p('closed-on-hello')),
    ep('connect-timeout', p('blackhole'), {}, '    timeouts: { connect: 300ms }\n'),
    // Separate pools, so a burst opens one stalled connection per call.
    ...STALLS.map((name) => ep(name, p('blackhole'), {}, '    timeouts: { connect: 300ms }\n')),
    ep('response-timeout', p('silent'), {}, '    timeouts: { response: 300ms }\n'),
    // 0 turns a limit off, as for every other timeout: not a timer that fires at once.
    ep('no-connect-limit', p('good'), {}, '    timeouts: { connect: 0, response: 0, idle: 0 }\n'),
  ]
  const yaml = `admin: { enabled: false }\nendpoints:\n${endpoints.join('')}`
  gw = await startTestGateway(pki.dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await Promise.all(servers.map((s) => s.close()))
  await Promise.all(tcpServers.map((s) => new Promise((r) => s.close(r))))
  pki?.cleanup()
})

describe('502: the server certificate', () => {
  it('timeouts.connect 0 (with response and idle 0) turns the limits off: the call is made, not a 504', async () => {
    const r = await call('no-connect-limit')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
  })

  it('a control endpoint on the same PKI works (so every failure below is the one named)', async () => {
    const r = await call('good')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
  })

  it('untrusted: signed by a CA that is not among the endpoint roots', async () => {
    expectGatewayError(await call('untrusted'), 502, 'untrusted', /server certificate untrusted/)
  })

  it('untrusted: the server sends its leaf without the intermediate', async () => {
    expectGatewayError(await call('leaf-only'), 502, 'leaf-only', /server certificate untrusted/)
  })

  it('hostname mismatch: a certificate for another name (forward proxy and route mode)', async () => {
    expectGatewayError(await call('wrong-name'), 502, 'wrong-name', /hostname mismatch/)
    // The forward-proxy way in names the same endpoint and cause.
    expectGatewayError(await send(gw.url, `http://api.partner.test:${ports['wrong-name']}/x`), 502, 'wrong-name', /hostname mismatch/)
  })

  it('hostname: tls.serverName makes the same certificate pass (SNI and check use the name)', async () => {
    const r = await call('renamed')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
  })

  it('expired', async () => {
    const msg = expectGatewayError(await call('expired'), 502, 'expired', /server certificate expired/)
    expect(msg).not.toMatch(/not yet valid/)
  })

  it('not yet valid', async () => {
    expectGatewayError(await call('not-yet'), 502, 'not-yet', /server certificate not yet valid/)
  })

  it('SPKI pin mismatch (tls.pins holds no key of the server chain)', async () => {
    expectGatewayError(await call('pin-bad'), 502, 'pin-bad', /pin mismatch/)
  })

  it('SPKI pin: an RSA server\'s leaf pin passes; another key\'s pin does not', async () => {
    const r = await call('pin-rsa')
    expect(r.status, r.text).toBe(200)
    expectGatewayError(await call('pin-rsa-bad'), 502, 'pin-rsa-bad', /pin mismatch/)
  })

  it('SPKI pin: an ECDSA server leaf\'s pin (standard sha256 of the SPKI DER, as curl --pinnedpubkey) passes', async () => {
    const r = await call('pin-leaf')
    expect(r.status, r.text).toBe(200)
  })

  it('SPKI pin: the intermediate\'s pin passes too (pins match any certificate of the chain)', async () => {
    const r = await call('pin-inter')
    expect(r.status, r.text).toBe(200)
  })

  it('revoked by the issuing CA\'s CRL (tls.crl); an unrevoked server with the same CRLs passes', async () => {
    expectGatewayError(await call('revoked'), 502, 'revoked', /server certificate revoked/)
    const ok = await call('crl-ok')
    expect(ok.status, ok.text).toBe(200)
  })

  it('CRL checking covers the whole chain: without the root\'s CRL the intermediate is unverifiable', async () => {
    // Node's `crl` option turns on X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL, so every
    // CA level needs a CRL; a missing one fails closed, and the message says so.
    expectGatewayError(await call('crl-leaf-only'), 502, 'crl-leaf-only', /no CRL for a CA of its chain/)
  })
})

describe('502: the server refuses the client or the TLS version', () => {
  // A Node server refusing a client certificate just closes the socket: no TLS alert, so the
  // gateway can only say how the connection ended (TLS 1.3: after the handshake, when the
  // request is sent; TLS 1.2: during the handshake). Servers that do send the alert (HAProxy,
  // nginx, openssl s_server) are in test/peers/, where the gateway must name it.
  it('client certificate refused by a Node server (CA without the client\'s issuer), TLS 1.3', async () => {
    expectGatewayError(await call('client-refused'), 502, 'client-refused', /: connection closed by the server$/)
  })

  it('client certificate refused by a Node server, TLS 1.2', async () => {
    expectGatewayError(await call('client-refused-12'), 502, 'client-refused-12', /: connection closed by the server during the TLS handshake$/)
  })

  it('TLS version refused: endpoint minVersion TLSv1.3 against a TLS 1.2-only server', async () => {
    expectGatewayError(await call('tls13-only'), 502, 'tls13-only', /TLS version refused/)
  })
})

describe('502/504: the connection', () => {
  it('connection refused (nothing listening)', async () => {
    expectGatewayError(await call('refused'), 502, 'refused', /connection refused/)
  })

  it('connection reset on connect', async () => {
    expectGatewayError(await call('reset-on-connect'), 502, 'reset-on-connect', /: connection reset by the server$/)
  })

  it('connection reset after the ClientHello', async () => {
    expectGatewayError(await call('reset-on-hello'), 502, 'reset-on-hello', /: connection reset by the server$/)
  })

  it('connection closed (FIN) after the ClientHello', async () => {
    expectGatewayError(await call('closed-on-hello'), 502, 'closed-on-hello', /: connection closed by the server during the TLS handshake$/)
  })

  it('504 connect timeout: the server accepts TCP and never answers the handshake', async () => {
    const started = Date.now()
    expectGatewayError(await call('connect-timeout'), 504, 'connect-timeout', /connect timeout/)
    const took = Date.now() - started
    // The configured limit was waited for (a lower bound cannot flake on a slow machine); the
    // 504 itself shows it fired, and the test's own timeout catches a hang.
    expect(took).toBeGreaterThanOrEqual(250)
  })

  it('504 response timeout: the TLS server never answers the request', async () => {
    const started = Date.now()
    expectGatewayError(await call('response-timeout'), 504, 'response-timeout', /response timeout/)
    const took = Date.now() - started
    // The configured limit was waited for (a lower bound cannot flake on a slow machine); the
    // 504 itself shows it fired, and the test's own timeout catches a hang.
    expect(took).toBeGreaterThanOrEqual(250)
  })
})

describe('after the failures', () => {
  it('still serves, and a burst of failing requests leaves no socket behind', async () => {
    const failing = ['untrusted', 'leaf-only', 'wrong-name', 'expired', 'not-yet', 'pin-bad', 'revoked', 'crl-leaf-only', 'client-refused', 'client-refused-12', 'tls13-only', 'refused', 'reset-on-connect', 'reset-on-hello', 'closed-on-hello', 'response-timeout', ...STALLS]
    // Warm-up round: lazily created pools, timers and the like are not leaks.
    await Promise.all(failing.map((e) => call(e)))
    const before = await quietFds()
    for (let round = 0; round < 3; round++) {
      const replies = await Promise.all(failing.map((e) => call(e)))
      for (const r of replies) expect([502, 504]).toContain(r.status)
    }
    // Each round opens one upstream connection per endpoint (2 fds each: the test servers
    // live in this process too); leaking only the stalled ones would add 3 x 6 x 2 = 36.
    const after = await quietFds(before + 2)
    expect(after, `open fds before ${before}, after ${after}`).toBeLessThanOrEqual(before + 2)
    const r = await call('good')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
  })
})

/** The fd count once closes in flight have landed: at most `target`, or else steady (≤ ~2 s). */
async function quietFds(target?: number): Promise<number> {
  let n = openFds()
  for (let i = 0, same = 0; i < 40 && (target === undefined ? same < 3 : n > target); i++) {
    await settle()
    const m = openFds()
    same = m === n ? same + 1 : 0
    n = m
  }
  return n
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50))
}
