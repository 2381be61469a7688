/**
 * POST /gateway/token under the failure throttle, as callers reach it, on every topology (in this
 * process; `serve --workers 2` on one SQLite file; two replicas on Redis with requests
 * alternating): past `callers.failedExchangesPerMinute` (here 5) failed exchanges within a minute
 * from one source address, that address gets 429 `token_exchange_throttled` with Retry-After in
 * the standard error body, before its assertion is read (a valid one too), while another address
 * goes on. Exchanges that issue a bearer are not counted. The failures admitted from one address
 * stay at 5 however many processes served them, also when they arrive at once. Before, every
 * bogus assertion was verified (RS256) or decrypted (RSA) without limit.
 * Source addresses are loopback aliases (127.31.x.y).
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inOneWindow, requestFrom, times, type ThrottleReply } from './throttle-support.js'
import { storeYaml, TOPOLOGIES, useTopology, type StoreLocation } from '../support/topology.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { SHORT_REDIS_TIMEOUTS, usePausedRedisGateway } from './paused-redis-gateway.js'

const SECRET = 'exchange-throttle-hs256-secret-32-bytes'
const AUD = 'https://gateway.test'
const MAX = 5
let pki: TestPki

beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

/** A valid assertion (its own jti), or one whose signature is wrong. */
async function assertion(valid: boolean): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  return valid ? jwt : `${jwt.slice(0, jwt.lastIndexOf('.'))}.${'A'.repeat(43)}`
}

const exchange = async (url: string, address: string, valid: boolean): Promise<ThrottleReply> =>
  requestFrom(`${url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await assertion(valid) }), localAddress: address })

/** The checks every refusal meets: the standard body with its specific message and a correct length, and Retry-After. */
function expectThrottled(r: ThrottleReply): void {
  expect(r.status, r.text).toBe(429)
  const retry = Number(r.headers['retry-after'])
  expect(retry).toBeGreaterThanOrEqual(1)
  expect(retry).toBeLessThanOrEqual(60)
  expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
  expect(JSON.parse(r.text)).toEqual({ errors: [{ code: 429, msg: `POST /gateway/token: too many failed exchanges from this address (${MAX} a minute): it may try again in ${retry} s; other addresses are not affected` }] })
}

/** The gateway's config: one HS256 app, `max` failed exchanges a minute, the admin listener off unless `admin`. */
const yamlFor = (store: StoreLocation, max: number, admin = 'admin: { enabled: false }\n', redis = ''): string =>
  `listen: { host: 127.0.0.1, port: 0 }\n${admin}${storeYaml(store, []).replace(' }\n', `${redis} }\n`)}callers:\n  failedExchangesPerMinute: ${max}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }\nendpoints:\n  - { name: partner, url: "https://api.partner.test:9", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(pki)} }\n`

describe.each(TOPOLOGIES)('the failed-exchange throttle of POST /gateway/token (%s)', (kind) => {
  const { gw, topo } = useTopology(kind, 'exchange-throttle', (store) => yamlFor(store, MAX))

  it(`${MAX} failed exchanges from one address, then 429 there (a valid assertion too); another address goes on`, async () => {
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < MAX + 3; i++) statuses.push((await exchange(gw.url, address, false)).status)
      // Not MAX per process: one count for the gateway, in its store.
      expect(statuses).toEqual([...times(MAX, 401), ...times(3, 429)])
      expectThrottled(await exchange(gw.url, address, true))
      const keys = await topo().store.keys(`throttle:token-exchange:v4_${address}:`)
      expect(keys).toHaveLength(1)
    })
    await inOneWindow(async (other) => {
      const r = await exchange(gw.url, other, true)
      expect(r.status, r.text).toBe(200)
    })
  })

  it('exchanges that issue a bearer are not counted', async () => {
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 3 * MAX; i++) statuses.push((await exchange(gw.url, address, true)).status)
      for (let i = 0; i < MAX + 1; i++) statuses.push((await exchange(gw.url, address, false)).status)
      expect(statuses).toEqual([...times(3 * MAX, 200), ...times(MAX, 401), 429])
    })
  })

  // Before, each exchange held a place until it settled: past MAX at once, valid ones got 429 "too many failed exchanges".
  // One place is free, so they go through it one after the other, each waiting at most 15 s (WAIT_FOR_PLACE_MS) for
  // the ones before it: 2 × MAX, not 8 × MAX, whose last waited 40 exchanges (22 s at load 40, then 429 inFlight).
  it(`${2 * MAX} valid exchanges at once from one address, after ${MAX - 1} failed ones: every one issues a bearer, none is counted`, async () => {
    await inOneWindow(async (address) => {
      for (let i = 0; i < MAX - 1; i++) expect((await exchange(gw.url, address, false)).status).toBe(401)
      const replies = await Promise.all(times(2 * MAX, 0).map(() => exchange(gw.url, address, true)))
      expect(replies.map((r) => r.status)).toEqual(times(2 * MAX, 200))
      const after: number[] = []
      for (let i = 0; i < 2; i++) after.push((await exchange(gw.url, address, false)).status)
      expect(after).toEqual([401, 429])
    })
  })

  it(`${3 * MAX} failed exchanges at once from one address: ${MAX} are verified, the rest refused`, async () => {
    await inOneWindow(async (address) => {
      const replies = await Promise.all(times(3 * MAX, 0).map(() => exchange(gw.url, address, false)))
      expect(replies.map((r) => r.status).sort()).toEqual([...times(MAX, 401), ...times(2 * MAX, 429)])
    })
  })
})

describe('the failed-exchange throttle in one process with the admin listener', () => {
  let g: OpsGateway
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'exchange-throttle-ops-'))
    g = await startOpsGateway(dir, yamlFor({ kind: 'sqlite', file: join(dir, 'state.db') }, MAX, 'admin: { host: 127.0.0.1, port: 0 }\n'))
  })

  afterAll(async () => {
    await g?.gw.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('counts each refusal in caller_auth_failures_total{reason="token_exchange_throttled"} (not the admin token\'s reason); a reload to another limit counts on from the store, as a fresh start would; 0 turns it off', async () => {
    const throttled = async (reason = 'token_exchange_throttled'): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_caller_auth_failures_total', { reason }) ?? 0
    const reloadTo = async (max: number): Promise<void> => {
      const file = g.gw.ref.current.config.file
      const snapshot = g.gw.ref.current
      replaceFile(file, readFileSync(file, 'utf8').replace(/failedExchangesPerMinute: \d+/, `failedExchangesPerMinute: ${max}`))
      await eventually(() => g.gw.ref.current !== snapshot, 20_000, 'the reload')
    }
    await inOneWindow(async (address) => {
      // A scenario run again (it straddled a minute) starts from MAX again.
      if (g.gw.ref.current.config.callers.failedExchangesPerMinute !== MAX) await reloadTo(MAX)
      const before = await throttled()
      const statuses: number[] = []
      for (let i = 0; i < MAX + 2; i++) statuses.push((await exchange(g.gw.url, address, false)).status)
      expect(statuses).toEqual([...times(MAX, 401), 429, 429])
      expect(await throttled()).toBe(before + 2)
      expect(await throttled('admin_token_throttled')).toBe(0)
      await reloadTo(MAX + 3)
      const more: number[] = []
      for (let i = 0; i < 4; i++) more.push((await exchange(g.gw.url, address, false)).status)
      expect(more).toEqual([401, 401, 401, 429])
      await reloadTo(0)
      const off: number[] = []
      for (let i = 0; i < 3; i++) off.push((await exchange(g.gw.url, address, i === 2)).status)
      expect(off).toEqual([401, 401, 200])
    })
  })
})

describe('exchanges that fail in the store (a paused redis-server) are not counted', () => {
  const outage = usePausedRedisGateway('exchange-throttle-outage', (store) => yamlFor(store, MAX, 'admin: { enabled: false }\n', `, redis: ${SHORT_REDIS_TIMEOUTS}`))

  it(`${2 * MAX} valid exchanges meeting the outage get 503, never 429; once the store is back, the address still has its ${MAX} failures`, async () => {
    const { gw } = outage
    await inOneWindow(async (address) => {
      expect((await exchange(gw.url, address, true)).status).toBe(200)
      const statuses = await outage.whilePaused(async () => {
        // One after the other: each waits out the store's command timeout.
        const seen: number[] = []
        for (let i = 0; i < 2 * MAX; i++) seen.push((await exchange(gw.url, address, true)).status)
        return seen
      })
      expect(statuses).toEqual(times(2 * MAX, 503))
      await eventually(async () => (await exchange(gw.url, address, true)).status === 200, 20_000, 'the store to answer again')
      const after: number[] = []
      for (let i = 0; i < MAX + 1; i++) after.push((await exchange(gw.url, address, false)).status)
      expect(after).toEqual([...times(MAX, 401), 429])
    })
  }, 180_000)
})
