/**
 * callers.anonymousTtl shortened on a running gateway: by a reload (SIGHUP) of `serve --workers 2`
 * on SQLite, and by a rolling restart of two replicas on Redis. An anonymous user's token and bearer
 * stored under the longer value are not kept past the shorter one: shortened to 10 minutes, their
 * store expiry is brought forward to 10 minutes after they were made, with no request needed;
 * shortened below their age, they are removed (the bearer's sealed record with it), the anonymous
 * user's call asks for a new authorization, and a known user's token and bearer are untouched.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import { send } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { gatewaySet } from '../support/process.js'
import { spareEndpointsYaml, TTL_CHANGE_TOPOLOGIES, ttlChangeGateways } from '../support/anonymous-ttl-change.js'
import { expiryReader, type ExpiryReader } from '../support/store-expiry.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { ADMIN_TOKEN, authorizeLink, authorizeUser, danceInBrowser, gatewayYaml, newSealKey, startDanceProvider, type DanceProvider, type StoreYaml } from './dance-support.js'
import { AUD, botJwt } from './dance-gateway.js'

const SECRET = 'anon-ttl-shortened-hs256-secret-32-bytes'
const MIN = 60_000
/** How far an expiry read back may be off (Redis's from PTTL): far below the minutes that matter here. */
const SLACK_MS = 2000
const sealKeys = [{ id: 'k1', key: newSealKey() }]

let pki: TestPki
let provider: DanceProvider
let dir: string
const gateways = gatewaySet()

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'anon-ttl-shortened-'))
})

afterAll(async () => {
  await gateways.killAll()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** `endpoints` in all: partner and spares (spareEndpointsYaml). */
function writeConfig(file: string, store: StoreYaml, anonymousTtl: string, endpoints: number): string {
  const callers = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  bearerTtl: 1h\n  anonymousTtl: ${anonymousTtl}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }`
  writeFileSync(file, gatewayYaml({ pki, provider, store, sealKeys, callers, extraEndpoints: spareEndpointsYaml(endpoints, clientTlsYaml(pki)) }))
  return file
}

const jwt = (claims: JWTPayload): Promise<string> => botJwt(SECRET, claims)
const call = async (url: string, credential: string): Promise<number> => (await send(url, '/proxy/partner/resource/r', { headers: { 'proxy-authorization': `Bearer ${credential}` } })).status

async function bearerFor(url: string, claims: JWTPayload): Promise<string> {
  const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt({ jti: randomUUID(), ...claims }) }) })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

describe.each(TTL_CHANGE_TOPOLOGIES)('anonymousTtl shortened ($name)', ({ name, replicas, reload }) => {
  const prefix = uniqueRedisPrefix()
  afterAll(() => (replicas > 1 ? wipeRedisPrefix(prefix) : undefined))

  it("ends the anonymous user's token and bearer stored under the longer value; a known user's stay", async () => {
    const tag = name.split(',')[0] as string
    const location: StoreYaml = replicas > 1 ? { kind: 'redis', url: REDIS_URL, keyPrefix: prefix } : { kind: 'sqlite', file: join(dir, `${tag}.db`) }
    const file = join(dir, `${tag}.yaml`)
    // The config rewritten with `anonymousTtl` is taken by a reload of every worker, or a restart of each replica in turn.
    const { at, shorten, stopAll } = await ttlChangeGateways(gateways, { replicas, reload }, (ttl, endpoints) => writeConfig(file, location, ttl, endpoints), '1h')
    const store: Store = openStore(location.kind === 'sqlite' ? location : { kind: 'redis', url: location.url, keyPrefix: location.keyPrefix })
    const expiries: ExpiryReader = expiryReader(location)
    try {
      // Under 1h: an anonymous user authorizes and exchanges a bearer; so does a known user.
      const anonJwt = await jwt({ sub: 'anon-1', isAnonymous: true })
      expect((await danceInBrowser(await authorizeLink(at(0), '', { authorization: `Bearer ${anonJwt}` }), { provider })).done.status).toBe(200)
      expect((await authorizeUser(at(1), provider, 'user=kim&app=bot')).done.status).toBe(200)
      const issued = Date.now()
      const [anonBearer, kimBearer] = [await bearerFor(at(0), { sub: 'anon-1', isAnonymous: true }), await bearerFor(at(1), { sub: 'kim' })]
      expect([await call(at(1), anonBearer), await call(at(0), kimBearer)]).toEqual([200, 200])
      const anonToken = 'oauth1:anon:bot/anon-1:partner:'
      const obtainedAt = (JSON.parse((await store.get(anonToken)) as string) as { obtainedAt: number }).obtainedAt
      const bearerKeys = await store.keys('bearer:')
      expect(bearerKeys).toHaveLength(2)
      const expiryOf = async (keys: readonly string[]): Promise<(number | null | undefined)[]> => Promise.all(keys.map((k) => expiries.expiry(k)))
      expect(Math.min(...((await expiryOf(bearerKeys)) as number[]))).toBeGreaterThan(issued + 50 * MIN)

      // 10 minutes: what is stored for the anonymous user expires 10 minutes after it was made, with no request.
      await shorten('10m')
      await eventually(async () => ((await expiries.expiry(anonToken)) ?? Infinity) <= obtainedAt + 10 * MIN + SLACK_MS, 60_000, "the anonymous user's token to expire 10 minutes after it was obtained")
      await eventually(async () => (await expiryOf(bearerKeys)).filter((e) => (e ?? Infinity) <= Date.now() + 10 * MIN + SLACK_MS).length === 1, 60_000, "the anonymous user's bearer to expire 10 minutes after it was issued")
      expect(await expiries.expiry('oauth1:token:bot/kim:partner:')).toBeNull()

      // 1 second, which it has outlived: removed, bearer and all; the known user's stay and work.
      await eventually(() => Date.now() > Math.max(obtainedAt, issued) + 1500, 10_000, 'the anonymous records to be older than 1 s')
      await shorten('1s')
      await eventually(async () => (await store.keys('oauth1:anon:')).length === 0 && (await store.keys('bearer:')).length === 1, 60_000, "the anonymous user's token and bearer to be removed")
      const asAnonymous = await send(at(0), '/proxy/partner/resource/r', { headers: { 'proxy-authorization': `Bearer ${await jwt({ sub: 'anon-1', isAnonymous: true })}` } })
      expect(asAnonymous.status, asAnonymous.text).toBe(401)
      expect(asAnonymous.text).toContain('has not authorized profile')
      expect(await call(at(1), kimBearer)).toBe(200)
    } finally {
      expiries.close()
      await store.close()
      await stopAll()
    }
  }, 300_000)
})
