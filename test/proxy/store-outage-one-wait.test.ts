/**
 * One store wait per proxied request (docs/store.md: 503 store_unavailable within commandTimeout):
 * while a real redis-server is paused (SIGSTOP), a proxied request with a bearer to an endpoint
 * signing with each user's token sends Redis one command and answers 503 once that one fails —
 * in route mode, as a forward proxy, on an intercepted tunnel's inner request and at a CONNECT —
 * and each is its own request: none fails at once on another's failure (each sends its one
 * command). A relay in front of Redis counts the commands naming the gateway's keys: counted, not
 * timed. The API's and console's one wait is test/oauth1-dance/store-outage-one-wait.test.ts;
 * failures other than a hang, test/store/request-wait.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import type { Peer } from '../support/peers.js'
import { startRedisCommandRelay, type RedisCommandRelay } from '../support/redis-command-relay.js'
import { startRedisServer } from '../support/redis-servers.js'
import { whileStopped } from '../support/stopped-process.js'
import { ConnectRefused, openTunnel, TunnelAgent, type TunnelOptions } from '../support/tunnel.js'

const AUD = 'https://gateway.test'
const HS = 'one-wait-hs256-secret-of-32-bytes-long'
const PREFIX = `proxy-one-wait-${randomBytes(4).toString('hex')}:`
// An unused port: the upstream is never called (every request here stops at the store).
const UPSTREAM_PORT = 29_999

let pki: TestPki
let redis: Peer
let relay: RedisCommandRelay
let gw: RunningGateway
let ca: Buffer
let bearer: string

beforeAll(async () => {
  pki = await createTestPki('p256')
  redis = await startRedisServer()
  relay = await startRedisCommandRelay(redis.port)
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const api = `https://api.partner.test:${UPSTREAM_PORT}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store:
  kind: redis
  url: redis://127.0.0.1:${relay.port}
  keyPrefix: "${PREFIX}"
  redis: { commandTimeout: 1500ms, connectTimeout: 1s }
  sealKeys: [{ id: k1, key: "${randomBytes(32).toString('hex')}" }]
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
callers:
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }
endpoints:
  - name: partner
    url: ${api}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: partner
    tls: ${clientTlsYaml(pki)}
profiles:
  - name: partner
    provider: Partner Bank
    consumerKey: partnerconsumerkey0001
    consumerSecret: partner-consumer-secret
    requestTokenUrl: ${api}/request_token
    accessTokenUrl: ${api}/access_token
    authorizeUrl: ${api}/authorize
    token: { mode: per_user }
`)
  // Exchanged while Redis answers: the bearer is in the store for the requests below.
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'zed', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
  const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  expect(r.status, r.text).toBe(200)
  bearer = r.json<{ access_token: string }>().access_token
})

afterAll(async () => {
  await gw?.close()
  await relay?.close()
  await redis?.stop()
  pki?.cleanup()
})

const credential = (): Record<string, string> => ({ 'proxy-authorization': `Bearer ${bearer}` })
const tunnelTo = (): TunnelOptions => ({ gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${UPSTREAM_PORT}`, ca, headers: credential() })

/** One GET inside an open tunnel. */
function inner(agent: TunnelAgent, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: 'api.partner.test', port: UPSTREAM_PORT, path, headers: { host: `api.partner.test:${UPSTREAM_PORT}` } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** What `send` got, and how many commands naming the gateway's keys Redis was sent meanwhile. */
async function counted<T>(send: () => Promise<T>): Promise<{ reply: T; commands: number }> {
  const before = relay.count(PREFIX, 'startsWith')
  const reply = await send()
  return { reply, commands: relay.count(PREFIX, 'startsWith') - before }
}

function expect503(r: { status: number; text: string }): void {
  expect(r.status, r.text).toBe(503)
  expect(JSON.parse(r.text)).toMatchObject({ errors: [{ code: 503 }] })
}

describe('a proxied request while the redis-server is paused (SIGSTOP)', () => {
  it('sends Redis one command and answers 503 store_unavailable: route mode, forward proxy, CONNECT, a tunnel\'s inner request', async () => {
    // A tunnel opened while Redis answers: its inner requests check the bearer again.
    const agent = new TunnelAgent(tunnelTo())
    try {
      // The user has no token yet: 401 with the link to authorize (the tunnel stays open).
      const opened = await inner(agent, '/resource/r')
      expect(opened.status, opened.text).toBe(401)
      await whileStopped(redis.pid, async () => {
        const route = await counted(() => send(gw.url, '/proxy/partner/resource/r', { headers: credential() }))
        expect503(route.reply)
        expect(route.commands, 'route mode').toBe(1)
        const forward = await counted(() => send(gw.url, `http://api.partner.test:${UPSTREAM_PORT}/resource/r`, { headers: credential() }))
        expect503(forward.reply)
        expect(forward.commands, 'forward proxy').toBe(1)
        const tunnelled = await counted(() => inner(agent, '/resource/r'))
        expect503(tunnelled.reply)
        expect(tunnelled.commands, 'inner request').toBe(1)
        const refused = await counted(() => openTunnel(tunnelTo()).then((s) => (s.destroy(), new Error('CONNECT accepted')), (e: unknown) => e))
        expect(refused.reply).toBeInstanceOf(ConnectRefused)
        expect((refused.reply as ConnectRefused).status).toBe(503)
        expect(refused.commands, 'CONNECT').toBe(1)
      })
    } finally {
      agent.destroy()
    }
  }, 120_000)
})
