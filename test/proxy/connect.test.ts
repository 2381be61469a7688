import { execFile } from 'node:child_process'
import { connect as tcpConnect, createServer as createTcpServer, type Server as TcpServer } from 'node:net'
import { readFileSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import type { LookupAddress } from 'node:dns'
import { ProxyAgent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { send, startTestGateway } from '../support/gateway.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { startPeer, type Peer } from '../support/peers.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import type { EgressReason } from '../../src/gateway/index.js'

// HTTPS_PROXY support: CONNECT with interception (real curl, undici's ProxyAgent), the leaf
// cache, pass-through, the egress policy on the dialled address, and chaining through a
// real HTTP proxy (tinyproxy). A name that rebinds between dials needs a public first answer that
// is dialled: egress-registry.property.test.ts runs it in a loopback-only namespace.
const run = promisify(execFile)
const CONSUMER = { key: 'gatewayconsumer0000001', secret: 'consumer-secret' }
const TOKEN = { token: 'useraccesstoken00000001', secret: 'token-secret' }

let pki: TestPki
let upstream: RunningServer
let provider: OAuth1Provider
let echoTcp: TcpServer
let gw: RunningGateway
let ca: { caCert: string; caKey: string }
const minted: string[] = []
const tunnels: string[] = []
const refusals: EgressReason[] = []
let answers: Record<string, LookupAddress[]> = {}

const a4 = (address: string): LookupAddress => ({ address, family: 4 })
const a6 = (address: string): LookupAddress => ({ address, family: 6 })

beforeAll(async () => {
  pki = await createTestPki('p256', ['localhost', '127.0.0.1', 'api.partner.test', 'ssrf.test', 'opt-in.test'])
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  answers.localhost = [a4('127.0.0.1')]
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret }],
    access_tokens: [{ client_key: CONSUMER.key, token: TOKEN.token, secret: TOKEN.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), require_client_cert: true },
  })
  echoTcp = createTcpServer((s) => s.pipe(s))
  await new Promise<void>((r) => echoTcp.listen(0, '127.0.0.1', r))
  const tls = `    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')}, serverName: api.partner.test }\n`
  const ep = (name: string, host: string, port: number, extra = ''): string => `  - name: ${name}\n    url: https://${host}:${port}\n${extra}${tls}`
  const yaml = `admin: { enabled: false }
interception:
  caCert: ${ca.caCert}
  caKey: ${ca.caKey}
  passThrough: [{ host: 127.0.0.1, port: ${(echoTcp.address() as AddressInfo).port}, allowPrivate: true }]
profiles:
  - name: partner
    consumerKey: ${CONSUMER.key}
    consumerSecret: ${CONSUMER.secret}
    token: { mode: static, token: ${TOKEN.token}, tokenSecret: ${TOKEN.secret} }
    fields: [{ type: header, key: X-Partner-Key, value: "pk-123" }]
endpoints:
${ep('signed', 'api.partner.test', provider.port, '    resolve: 127.0.0.1\n    allowPrivate: true\n    profile: partner\n')}${ep('echo', 'localhost', upstream.port, '    allowPrivate: true\n')}${ep('ssrf', 'ssrf.test', upstream.port, '    timeouts: { connect: 300ms }\n')}${ep('optin', 'opt-in.test', upstream.port, '    allowPrivate: true\n')}`
  gw = await startTestGateway(pki.dir, yaml, {
    hooks: { onMint: (host) => minted.push(host), onTunnel: (k) => tunnels.push(k), onEgressRefusal: (r) => refusals.push(r) },
    resolve: (host, _o, cb) => {
      const answer = answers[host]
      if (answer === undefined) return cb(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), [])
      cb(null, answer)
    },
  })
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  await provider?.close()
  echoTcp?.close()
  pki?.cleanup()
})

describe('CONNECT with TLS interception', () => {
  it('the real curl, trusting the interception CA, reaches an mTLS upstream with OAuth signing and a header field', async () => {
    const { stdout } = await run('curl', ['-sS', '-x', gw.url, '--cacert', ca.caCert, `https://api.partner.test:${provider.port}/resource?x=1`])
    const v = JSON.parse(stdout) as { ok: boolean; signature_type: string; client_cert: { subject: [string, string][] } }
    expect(v.ok, stdout).toBe(true)
    expect(v.signature_type).toBe('AUTH_HEADER')
    expect(v.client_cert.subject).toContainEqual(['commonName', 'bot-runtime'])
  })

  it("undici's ProxyAgent sends several requests through one tunnel; the second tunnel mints nothing", async () => {
    const agent = new ProxyAgent({ uri: gw.url, requestTls: { ca: readFileSync(ca.caCert, 'utf8') }, connections: 1 })
    try {
      const before = tunnels.length
      const mintedBefore = minted.length
      for (let i = 0; i < 5; i++) {
        const r = await request(`https://localhost:${upstream.port}/n/${i}`, { dispatcher: agent })
        const text = await r.body.text()
        expect(r.statusCode, text).toBe(200)
        const echo = JSON.parse(text) as EchoReply
        expect(echo.url).toBe(`/n/${i}`)
        expect(echo.clientSubject).toContain('CN=bot-runtime')
      }
      expect(tunnels.slice(before)).toEqual(['intercepted'])
      expect(minted.slice(mintedBefore).filter((h) => h === 'localhost').length).toBeLessThanOrEqual(1)
    } finally {
      await agent.close()
    }
    const again = new ProxyAgent({ uri: gw.url, requestTls: { ca: readFileSync(ca.caCert, 'utf8') } })
    const mintedBefore = minted.length
    try {
      const r = await request(`https://localhost:${upstream.port}/again`, { dispatcher: again })
      expect(r.statusCode).toBe(200)
      await r.body.dump()
    } finally {
      await again.close()
    }
    expect(minted.length).toBe(mintedBefore)
  })

  it('mints only for configured names: an unknown SNI gets the CONNECT host\'s leaf, and nothing is minted for it', async () => {
    const raw = tcpConnect(gw.port, '127.0.0.1')
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()))
    raw.write(`CONNECT localhost:${upstream.port} HTTP/1.1\r\nHost: localhost:${upstream.port}\r\n\r\n`)
    await new Promise<void>((resolve) => raw.once('data', () => resolve()))
    const { connect: tlsConnect } = await import('node:tls')
    const tls = tlsConnect({ socket: raw, servername: 'random-name.evil', ca: readFileSync(ca.caCert, 'utf8'), checkServerIdentity: () => undefined })
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', () => resolve()).once('error', reject))
    expect(tls.getPeerCertificate().subjectaltname).toBe('DNS:localhost')
    tls.destroy()
    expect(minted).not.toContain('random-name.evil')
  })

  it('answers a CONNECT sent inside an intercepted tunnel with 405 and closes it (it was held open past every limit)', async () => {
    const { connect: tlsConnect } = await import('node:tls')
    const nestedOnce = async (): Promise<{ head: string; closed: boolean }> => {
      const raw = tcpConnect(gw.port, '127.0.0.1')
      await new Promise<void>((resolve) => raw.once('connect', () => resolve()))
      raw.write(`CONNECT localhost:${upstream.port} HTTP/1.1\r\nHost: localhost:${upstream.port}\r\n\r\n`)
      await new Promise<void>((resolve) => raw.once('data', () => resolve()))
      const tls = tlsConnect({ socket: raw, servername: 'localhost', ca: readFileSync(ca.caCert, 'utf8') })
      await new Promise<void>((resolve, reject) => tls.once('secureConnect', () => resolve()).once('error', reject))
      let text = ''
      tls.on('data', (c: Buffer) => (text += c.toString()))
      tls.write(`CONNECT localhost:${upstream.port} HTTP/1.1\r\nHost: localhost:${upstream.port}\r\n\r\n`)
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000)
        tls.once('close', () => (clearTimeout(timer), resolve(true)))
        tls.once('error', () => undefined)
      })
      tls.destroy()
      return { head: text, closed }
    }
    // More than a small cap's worth, one after another: none is left holding its connection.
    for (let i = 0; i < 5; i++) {
      const { head, closed } = await nestedOnce()
      expect(head).toMatch(/^HTTP\/1\.1 405 /)
      expect(head).toContain('"code":405')
      expect(head).toMatch(/\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i)
      expect(closed).toBe(true)
    }
    const after = await request(`https://localhost:${upstream.port}/after-nested`, { dispatcher: new ProxyAgent({ uri: gw.url, requestTls: { ca: readFileSync(ca.caCert, 'utf8') } }) })
    expect(after.statusCode).toBe(200)
    await after.body.dump()
  })

  it('refuses CONNECT to an unconfigured host with 403; tunnels a pass-through host untouched', async () => {
    const refused = await run('curl', ['-sS', '-x', gw.url, '--cacert', ca.caCert, '-o', '/dev/null', '-w', '%{http_connect}', 'https://example.com:443/']).catch((e: { stdout: string }) => e)
    expect(refused.stdout).toBe('403')
    const port = (echoTcp.address() as AddressInfo).port
    const raw = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect(gw.port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`))
      let got = ''
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1')
        if (got.includes('\r\n\r\n') && !got.includes('ping')) s.write(Buffer.from('ping-not-tls\u0000\u00ff', 'latin1'))
        if (got.includes('ping-not-tls')) {
          s.end()
          resolve(got)
        }
      })
      s.on('error', reject)
    })
    expect(raw.startsWith('HTTP/1.1 200 Connection Established\r\n\r\n')).toBe(true)
    expect(raw).toContain('ping-not-tls\u0000\u00ff')
    expect(tunnels).toContain('pass_through')
  })
})


describe('egress policy on the dialled address', () => {
  const cases: [string, LookupAddress[], EgressReason][] = [
    ['loopback', [a4('127.0.0.1')], 'loopback'],
    ['rfc1918', [a4('10.1.2.3')], 'private'],
    ['metadata', [a4('169.254.169.254')], 'metadata'],
    ['ipv6 loopback', [a6('::1')], 'loopback'],
    ['ipv4-mapped loopback', [a6('::ffff:127.0.0.1')], 'loopback'],
    ['metadata v6', [a6('fd00:ec2::254')], 'metadata'],
    ['cgnat', [a4('100.64.1.1')], 'cgnat'],
    ['public then loopback', [a4('93.184.216.34'), a4('127.0.0.1')], 'loopback'],
  ]
  it.each(cases)('%s is refused with 403 and counted by reason', async (_label, answer, reason) => {
    answers['ssrf.test'] = answer
    const before = refusals.length
    const r = await send(gw.url, '/proxy/ssrf/x')
    expect(r.status).toBe(403)
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringContaining(`endpoint "ssrf": destination ssrf.test resolves to`), code: 403 }] })
    expect(refusals.slice(before)).toEqual([reason])
  })

  it('allows private destinations when the endpoint opts in (the dial then reaches the upstream)', async () => {
    answers['opt-in.test'] = [a6('::ffff:127.0.0.1')]
    const r = await send(gw.url, '/proxy/optin/x')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
  })
})

describe('chaining through a real HTTP proxy (tinyproxy)', () => {
  let tinyproxy: Peer
  let chained: RunningGateway
  afterAll(async () => {
    await chained?.close()
    await tinyproxy?.stop()
  })

  it('runs the mTLS handshake end to end through CONNECT; the upstream sees the client certificate', async () => {
    tinyproxy = await startPeer({
      name: 'tinyproxy',
      command: 'tinyproxy',
      setup(dir, port) {
        const conf = join(dir, 'tinyproxy.conf')
        writeFileSync(conf, `Port ${port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\nLogLevel Info\nLogFile "${dir}/tinyproxy.log"\nPidFile "${dir}/tinyproxy.pid"\n`)
        return ['-d', '-c', conf]
      },
    })
    const yaml = `admin: { enabled: false }\nendpoints:\n  - name: via\n    url: https://127.0.0.1:${upstream.port}\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${tinyproxy.port}" }\n    tls: ${clientTlsYaml(pki)}\n`
    writeFileSync(join(pki.dir, 'chained.yaml'), yaml)
    chained = await startTestGateway(join(pki.dir), yaml)
    const r = await send(chained.url, '/proxy/via/through-connector')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>()).toMatchObject({ url: '/through-connector', clientSubject: 'CN=bot-runtime,O=mtls-gateway tests' })
    // The tunnel really went through the connector, to this upstream (not just any CONNECT).
    expect(tinyproxy.read('tinyproxy.log')).toMatch(new RegExp(`: CONNECT 127\\.0\\.0\\.1:${upstream.port} HTTP/1\\.1$`, 'm'))
  })

  it('applies the egress policy to the connector\'s address: a loopback proxy without allowPrivate is refused, never dialled', async () => {
    let dialled = 0
    const fakeProxy = createTcpServer((s) => {
      dialled++
      s.destroy()
    })
    await new Promise<void>((r) => fakeProxy.listen(0, '127.0.0.1', r))
    const port = (fakeProxy.address() as AddressInfo).port
    const tlsYaml = `    tls: ${clientTlsYaml(pki)}\n`
    const yaml = `admin: { enabled: false }\nendpoints:\n` +
      `  - name: literal\n    url: https://api.partner.test\n    via: { url: "http://127.0.0.1:${port}" }\n${tlsYaml}` +
      `  - name: named\n    url: https://api.partner.test\n    via: { url: "http://localhost:${port}" }\n${tlsYaml}`
    const g = await startTestGateway(pki.dir, yaml)
    try {
      for (const name of ['literal', 'named']) {
        const r = await send(g.url, `/proxy/${name}/x`)
        expect([name, r.status], r.text).toEqual([name, 403])
        expect(r.text).toMatch(/loopback/)
      }
      expect(dialled).toBe(0)
    } finally {
      await g.close()
      fakeProxy.close()
    }
  })

  it('names the connector when it refuses', async () => {
    await tinyproxy.stop()
    const r = await send(chained.url, '/proxy/via/x')
    expect(r.status).toBe(502)
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^endpoint "via": upstream proxy 127\.0\.0\.1:\d+: /), code: 502 }] })
  })
})
