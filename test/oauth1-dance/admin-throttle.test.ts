/**
 * The OAuth operator routes (DELETE …/tokens/<user>, POST …/test, and authorize with the
 * admin token) under the failure throttle, as callers reach them, on every topology (in
 * this process; `serve --workers 2` on one SQLite file; two replicas on Redis with requests
 * alternating): past 20 wrong admin tokens in a minute from one source address, that address
 * gets 429 with Retry-After, even with the right token, while another address goes on; the
 * wrong guesses admitted from one address stay at 20 however many processes served them,
 * also when they all arrive at once, while right ones arriving at once are all let through
 * (only settled wrong ones count). On authorize only a bearer that is neither the admin
 * token nor a caller's counts, and a throttled address keeps its callers' bearers; a bearer
 * shaped like a caller's is never compared with the admin token (which is not), so stale
 * opaque bearers get 401 and a valid one during a store outage (a paused redis-server) 503,
 * never 429, and the admin token still works from that address. The store holds one counter
 * per address and minute.
 * In-process with the admin listener: the refusals are counted in the metrics, and a hot
 * reload keeps the count. Source addresses are loopback aliases (127.31.x.y).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { inOneWindow, requestFrom, times, type ThrottleReply } from '../api/throttle-support.js'
import { SHORT_REDIS_TIMEOUTS, usePausedRedisGateway } from '../api/paused-redis-gateway.js'
import { hasCallerBearerShape } from '../../src/dance/credentials.js'
import { ADMIN_TOKEN, gatewayYaml } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const SECRET = 'admin-throttle-hs256-secret-of-32-bytes'
const AUD = 'https://gateway.test'
const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]`
const WRONG = 'not-the-admin-token-but-long-enough'
const REVOKE = '/gateway/oauth1/partner/tokens/nobody'
const TEST = '/gateway/oauth1/partner/test'
const AUTHORIZE = '/gateway/oauth1/partner/authorize?user=u1&app=bot&format=json'
/** A caller's start names no user: its bearer's sub is the user. */
const AUTHORIZE_OWN = '/gateway/oauth1/partner/authorize?format=json'

const fx = useDanceProvider()

async function callerJwt(sub: string, jti?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub, iat: now, exp: now + 300, ...(jti ? { jti } : {}) }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
}

/** `path` with `token` as the bearer, from `address`, on the next process of the gateway. */
const call = (url: string, path: string, token: string, address: string): Promise<ThrottleReply> =>
  requestFrom(`${url}${path}`, { method: path === REVOKE ? 'DELETE' : path === TEST ? 'POST' : 'GET', headers: { authorization: `Bearer ${token}` }, localAddress: address })

/** The checks every refusal meets: the standard body with a specific message, and Retry-After. */
function expectThrottled(r: ThrottleReply, route: RegExp): void {
  expect(r.status, r.text).toBe(429)
  const retry = Number(r.headers['retry-after'])
  expect(retry).toBeGreaterThanOrEqual(1)
  expect(retry).toBeLessThanOrEqual(60)
  const body = JSON.parse(r.text) as { errors: { msg: string; code: number }[] }
  expect(body.errors).toHaveLength(1)
  expect(Object.keys(body.errors[0] ?? {}).sort()).toEqual(['code', 'msg'])
  expect(body.errors[0]?.code).toBe(429)
  expect(body.errors[0]?.msg).toMatch(route)
  expect(body.errors[0]?.msg).toContain(`it may try again in ${retry} s`)
}

/** 25 calls with `token()` on authorize from `address`: their statuses. */
async function authorizeTimes(url: string, token: () => string, address: string): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < 25; i++) statuses.push((await call(url, AUTHORIZE_OWN, token(), address)).status)
  return statuses
}

describe.each(TOPOLOGIES)('the admin-token throttle of the OAuth routes (%s)', (kind) => {
  const { gw, topo } = useTopology(kind, 'admin-throttle', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS }))

  /** The address's throttle counters (one per minute) and what they hold. */
  const counters = async (address: string): Promise<number[]> => {
    const store = topo().store
    return Promise.all((await store.keys(`throttle:oauth1-admin:v4_${address}:`)).map(async (k) => Number(await store.get(k))))
  }

  it('20 wrong admin tokens from one address, then 429 there (right token too) on every operator route; another address goes on', async () => {
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 25; i++) statuses.push((await call(gw.url, REVOKE, `${WRONG}-${i}`, address)).status)
      // Not 20 per process: one count for the gateway, in its store.
      expect(statuses).toEqual([...times(20, 401), ...times(5, 429)])
      // One key: the 20 admitted wrong tokens, plus the refused ones that reached the store
      // (a process whose own count was used up refused before asking it).
      const [count, ...more] = await counters(address)
      expect(more).toEqual([])
      expect(count).toBeGreaterThanOrEqual(20)
      expect(count).toBeLessThanOrEqual(25)
      expectThrottled(await call(gw.url, REVOKE, ADMIN_TOKEN, address), /^DELETE \/gateway\/oauth1\/<profile>\/tokens\/<user>: too many wrong admin tokens from this address \(20 a minute\)/)
      expectThrottled(await call(gw.url, TEST, ADMIN_TOKEN, address), /^POST \/gateway\/oauth1\/<profile>\/test: too many wrong admin tokens/)
      expectThrottled(await call(gw.url, AUTHORIZE, ADMIN_TOKEN, address), /^authorize: too many bearers that are neither the admin token nor a caller's from this address/)
    })
    await inOneWindow(async (other) => {
      expect((await call(gw.url, REVOKE, ADMIN_TOKEN, other)).status).toBe(404)
      const tested = await call(gw.url, TEST, ADMIN_TOKEN, other)
      expect(tested.status, tested.text).toBe(200)
      expect((await call(gw.url, AUTHORIZE, ADMIN_TOKEN, other)).status).toBe(200)
      // Right tokens give their places back.
      expect(await counters(other)).toEqual([0])
    })
  })

  // Before, each attempt held a place until compared: past 20 at once, right tokens got 429 like wrong ones.
  it('40 right admin tokens at once from one address, after 19 wrong ones (a console in several tabs, a scraper): every one let through, none counted', async () => {
    await inOneWindow(async (address) => {
      for (let i = 0; i < 19; i++) expect((await call(gw.url, REVOKE, `${WRONG}-${i}`, address)).status).toBe(401)
      const replies = await Promise.all(times(40, 0).map(() => call(gw.url, REVOKE, ADMIN_TOKEN, address)))
      expect(replies.map((r) => r.status)).toEqual(times(40, 404))
      expect([(await call(gw.url, REVOKE, `${WRONG}-19`, address)).status, (await call(gw.url, REVOKE, ADMIN_TOKEN, address)).status]).toEqual([401, 429])
    })
  })

  it('40 wrong admin tokens at once from one address: 20 are compared, 20 refused', async () => {
    await inOneWindow(async (address) => {
      const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => call(gw.url, REVOKE, `${WRONG}-${i}`, address)))
      const statuses = replies.map((r) => r.status).sort()
      expect(statuses).toEqual([...times(20, 401), ...times(20, 429)])
    })
  })

  it('authorize: only a bearer that is neither counts; a throttled address keeps its callers\' bearers', async () => {
    const bearer = await callerJwt('carol')
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 25; i++) statuses.push((await call(gw.url, AUTHORIZE_OWN, bearer, address)).status)
      expect(statuses).toEqual(times(25, 200))
      expect((await call(gw.url, AUTHORIZE, ADMIN_TOKEN, address)).status).toBe(200)
    })
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 21; i++) statuses.push((await call(gw.url, AUTHORIZE_OWN, `unknownbearer${i}`, address)).status)
      expect(statuses).toEqual([...times(20, 401), 429])
      expect((await call(gw.url, AUTHORIZE, ADMIN_TOKEN, address)).status).toBe(429)
      const mine = await call(gw.url, AUTHORIZE_OWN, bearer, address)
      expect(mine.status, mine.text).toBe(200)
    })
  })

  // On the same gateways (one start per topology): each scenario has an address of its own.
  describe('caller-shaped bearers on authorize never spend the admin-token budget', () => {
    it('25 unknown opaque bearers (as a stale one is) get 401, never 429, and count nothing; the admin token then works from that address', async () => {
      await inOneWindow(async (address) => {
        expect(await authorizeTimes(gw.url, () => randomBytes(32).toString('base64url'), address)).toEqual(times(25, 401))
        expect(await topo().store.keys(`throttle:oauth1-admin:v4_${address}:`)).toEqual([])
        const admin = await call(gw.url, AUTHORIZE, ADMIN_TOKEN, address)
        expect(admin.status, admin.text).toBe(200)
      })
    })
  })
})

describe('a caller\'s valid bearer during a store outage', () => {
  const outage = usePausedRedisGateway('admin-throttle-outage', (store) => {
    const yaml = gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS }).replace('keyPrefix: "outage:"', `keyPrefix: "outage:"\n  redis: ${SHORT_REDIS_TIMEOUTS}`)
    expect(yaml).toContain('commandTimeout: 600ms')
    return yaml
  })

  it('gets 503 on 25 calls, never 429 (the redis-server paused with SIGSTOP); once the store is back the admin token works from that address', async () => {
    const { gw } = outage
    const issued = await requestFrom(`${gw.url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await callerJwt('dave', randomUUID()) }) })
    expect(issued.status, issued.text).toBe(200)
    const bearer = (JSON.parse(issued.text) as { access_token: string }).access_token
    expect(hasCallerBearerShape(bearer)).toBe(true)
    await inOneWindow(async (address) => {
      expect((await call(gw.url, AUTHORIZE_OWN, bearer, address)).status).toBe(200)
      // At once: each call waits out the 600 ms command timeout, and a counted bearer would still
      // be refused past 20 (the process's own count is taken before the store is asked, see above).
      const statuses = await outage.whilePaused(async () => (await Promise.all(times(25, 0).map(() => call(gw.url, AUTHORIZE_OWN, bearer, address)))).map((r) => r.status))
      expect(statuses).toEqual(times(25, 503))
      await eventually(async () => (await call(gw.url, AUTHORIZE_OWN, bearer, address)).status === 200, 20_000, 'the store to answer again')
      const admin = await call(gw.url, AUTHORIZE, ADMIN_TOKEN, address)
      expect(admin.status, admin.text).toBe(200)
    })
  }, 180_000)
})

describe('the admin-token throttle in one process with the admin listener', () => {
  let g: OpsGateway
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'admin-throttle-ops-'))
    const yaml = gatewayYaml({ pki: fx.pki, provider: fx.provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers: CALLERS }).replace('admin:\n  enabled: false\n', 'admin:\n  host: 127.0.0.1\n  port: 0\n')
    expect(yaml).not.toContain('enabled: false')
    g = await startOpsGateway(dir, yaml)
  })

  afterAll(async () => {
    await g?.gw.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('counts each refusal in caller_auth_failures_total{reason="admin_token_throttled"} (not the token exchange\'s reason); a hot reload keeps the count', async () => {
    const throttled = async (reason = 'admin_token_throttled'): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_caller_auth_failures_total', { reason }) ?? 0
    await inOneWindow(async (address) => {
      const before = await throttled()
      for (let i = 0; i < 20; i++) expect((await call(g.gw.url, REVOKE, `${WRONG}-${i}`, address)).status).toBe(401)
      const refused = [await call(g.gw.url, REVOKE, ADMIN_TOKEN, address), await call(g.gw.url, TEST, WRONG, address)]
      expect(refused.map((r) => r.status)).toEqual([429, 429])
      expect(await throttled()).toBe(before + 2)
      expect(await throttled('token_exchange_throttled')).toBe(0)
      const file = g.gw.ref.current.config.file
      const snapshot = g.gw.ref.current
      replaceFile(file, `${readFileSync(file, 'utf8')}\n# reloaded\n`)
      await eventually(() => g.gw.ref.current !== snapshot, 20_000, 'the reload')
      expect((await call(g.gw.url, REVOKE, ADMIN_TOKEN, address)).status).toBe(429)
    })
  })
})
