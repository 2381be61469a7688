/**
 * A provider that hands the same request token to two users' dances (a broken or hostile token
 * endpoint, answering a fixed token): the second start used to overwrite the first's pending
 * record, so the first user's callback was refused by the browser-binding cookie and their dance
 * broke. Now the second start's store write refuses to replace a live pending record: the
 * second user gets the provider-failure page, and the first user's dance completes. On real
 * SQLite and on a real Redis (its own redis-server; the second start on another replica), through
 * a real TLS provider.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import type { RunningServer } from '../support/tls-server.js'
import { startRedisServer } from '../support/redis-servers.js'
import { authorizeLink, clickLink, cookieFor, gatewayYaml, startInBrowser, startTokenProvider, type DanceProvider, type StoreYaml } from './dance-support.js'

const FIXED = 'the-same-request-token'
let pki: TestPki
let provider: RunningServer
let fake: DanceProvider
let redis: Awaited<ReturnType<typeof startRedisServer>>
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  const started = await startTokenProvider(pki, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
    res.end(req.url?.startsWith('/access_token') ? 'oauth_token=at1&oauth_token_secret=as1' : `oauth_callback_confirmed=true&oauth_token=${FIXED}&oauth_token_secret=rs1`)
  })
  provider = started.server
  fake = started.fake
  redis = await startRedisServer()
  dir = mkdtempSync(join(tmpdir(), 'dance-shared-rt-'))
})

afterAll(async () => {
  await redis?.stop()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe.each([
  ['SQLite', 1, (): StoreYaml => ({ kind: 'sqlite', file: join(dir, 'state.db') })],
  ['Redis with two replicas', 2, (): StoreYaml => ({ kind: 'redis', url: `redis://127.0.0.1:${redis.port}`, keyPrefix: `shared-rt-${process.pid}:` })],
])('one request token issued to two dances, on %s', (_name, replicas, store) => {
  let gw: RunningGateway
  /** Where the second user's start goes: another replica on the same Redis, or the same gateway. */
  let other: RunningGateway

  beforeAll(async () => {
    const yaml = gatewayYaml({ pki, provider: fake, store: store() })
    gw = await startTestGateway(dir, yaml)
    other = replicas === 2 ? await startTestGateway(dir, yaml) : gw
  })

  afterAll(async () => {
    if (other !== gw) await other?.close()
    await gw?.close()
  })

  it('the second start gets the provider-failure page; the first user\'s dance completes', async () => {
    const alice = await startInBrowser(await authorizeLink(gw.url, 'user=alice'), { provider: fake, gateway: gw.url })
    expect(alice.requestToken).toBe(FIXED)
    const bob = await clickLink(other.url, await authorizeLink(other.url, 'user=bob'))
    expect(bob.status, bob.text).toBe(502)
    expect(bob.headers['content-type']).toMatch(/^text\/html/)
    expect(bob.text).toContain('Could not start the authorization with Partner Bank: it issued a request token that is already in use')
    expect(bob.text).not.toContain(FIXED)
    expect(bob.headers.location).toBeUndefined()
    const path = `/gateway/oauth1/callback?oauth_token=${FIXED}&oauth_verifier=v1`
    const done = await send(gw.url, path, { headers: cookieFor(alice.cookie, `${gw.url}${path}`) })
    expect(done.status, done.text).toBe(200)
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: { 'x-gateway-user': 'alice' } })).status).toBe(200)
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: { 'x-gateway-user': 'bob' } })).status).not.toBe(200)
  })
})
