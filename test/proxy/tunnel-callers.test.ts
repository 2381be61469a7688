/**
 * Caller identity holds for the whole tunnel, and a gateway bearer never reaches an
 * upstream. A tunnel that outlives its bearer gets 407 on its next inner request; an app
 * allowed none of the CONNECT host's endpoints is refused at the CONNECT (403); the bearer
 * is removed from every header on every way in (route mode's Authorization included).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/serve.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { ConnectRefused, openTunnel, TunnelAgent, type TunnelOptions } from '../support/tunnel.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const now = (): number => Math.floor(Date.now() / 1000)

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let ca: Buffer
let tunnel: Omit<TunnelOptions, 'headers'>

async function bearer(app: string): Promise<string> {
  const assertion = await new SignJWT({ iss: app, aud: AUD, sub: 'user-7', iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(`${HS}-${app}`))
  const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

interface InnerReply { status: number; headers: IncomingHttpHeaders; text: string; socket: Socket }

function inner(agent: TunnelAgent, path: string, headers: Record<string, string> = {}): Promise<InnerReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path, headers: { host: `api.partner.test:${upstream.port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), socket: res.socket as Socket }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const tls = `    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
  const ep = (name: string): string => `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${tls}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
callers:
  bearerTtl: 3s
  clockSkew: 0s
  apps:
    - { clientId: bot, hs256Secret: "${HS}-bot", audience: "${AUD}", endpoints: [partner] }
    - { clientId: elsewhere, hs256Secret: "${HS}-elsewhere", audience: "${AUD}", endpoints: [unrelated] }
endpoints:
${ep('partner')}  - name: unrelated\n    url: https://unrelated.partner.test:443\n    allowPrivate: true\n${tls}`)
  tunnel = { gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${upstream.port}`, ca }
}, 60_000)

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('caller identity inside a tunnel', () => {
  it('a tunnel that outlives its bearer: the next inner request on the same tunnel gets 407', async () => {
    const token = await bearer('bot')
    const agent = new TunnelAgent({ ...tunnel, headers: { 'proxy-authorization': `Bearer ${token}` } })
    const first = await inner(agent, '/before')
    expect(first.status, first.text).toBe(200)
    // Poll until the bearer has expired (bearerTtl 3s); every answer until then is a 200 on the same tunnel.
    const deadline = Date.now() + 30_000
    let later: InnerReply = first
    while (later.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250))
      later = await inner(agent, '/after')
    }
    expect(later.status, later.text).toBe(407)
    expect(later.socket, 'the same tunnel').toBe(first.socket)
    expect(later.headers['proxy-authenticate']).toMatch(/^Bearer/)
    expect(JSON.parse(later.text)).toEqual({ errors: [{ msg: expect.stringMatching(/unknown or expired/), code: 407 }] })
    agent.destroy()
  })

  it('an app allowed none of the CONNECT host\'s endpoints is refused at the CONNECT with 403', async () => {
    const token = await bearer('elsewhere')
    const refused = await openTunnel({ ...tunnel, headers: { 'proxy-authorization': `Bearer ${token}` } }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(ConnectRefused)
    const { status, raw } = refused as ConnectRefused
    expect(status).toBe(403)
    expect(raw).toMatch(/caller app \\?"elsewhere\\?" may not use endpoint \\?"partner\\?"/)
  })
})

describe('a gateway bearer never reaches an upstream', () => {
  it('route mode: a bearer in both Proxy-Authorization and Authorization is forwarded in neither', async () => {
    const token = await bearer('bot')
    const r = await send(gw.url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${token}`, authorization: `Bearer ${token}`, 'x-echo-token': `t=${token}` } })
    expect(r.status, r.text).toBe(200)
    const seen = JSON.stringify(r.json<EchoReply>().headers)
    expect(seen).not.toContain(token)
    expect(r.json<EchoReply>().headers.authorization).toBeUndefined()
  })

  it('route mode: Authorization alone is the gateway credential and is not forwarded', async () => {
    const token = await bearer('bot')
    const r = await send(gw.url, '/proxy/partner/x', { headers: { authorization: `Bearer ${token}` } })
    expect(r.status, r.text).toBe(200)
    expect(JSON.stringify(r.json<EchoReply>().headers)).not.toContain(token)
  })

  it('forward proxy: the bearer copied into Authorization or any other header is removed; other Authorization values pass', async () => {
    const token = await bearer('bot')
    const copied = await send(gw.url, `http://api.partner.test:${upstream.port}/x`, { headers: { 'proxy-authorization': `Bearer ${token}`, authorization: `Bearer ${token}`, 'x-copy': token } })
    expect(copied.status, copied.text).toBe(200)
    expect(JSON.stringify(copied.json<EchoReply>().headers)).not.toContain(token)
    const own = await send(gw.url, `http://api.partner.test:${upstream.port}/x`, { headers: { 'proxy-authorization': `Bearer ${token}`, authorization: 'Bearer backend-own-credential-123' } })
    expect(own.json<EchoReply>().headers.authorization).toBe('Bearer backend-own-credential-123')
  })

  it('inside a tunnel: the CONNECT\'s bearer repeated on an inner request is removed', async () => {
    const token = await bearer('bot')
    const agent = new TunnelAgent({ ...tunnel, headers: { 'proxy-authorization': `Bearer ${token}` } })
    const r = await inner(agent, '/x', { authorization: `Bearer ${token}`, 'x-copy': token })
    expect(r.status, r.text).toBe(200)
    expect(r.text).not.toContain(token)
    agent.destroy()
  })
})
