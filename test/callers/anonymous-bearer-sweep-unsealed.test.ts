/**
 * callers.anonymousTtl shortened on a gateway without store.sealKeys: an anonymous user's bearer
 * record is then sealed under a key derived from the bearer itself, which the sweep cannot open, so
 * it was kept until the end it was written with. Its life is written in clear beside it
 * (`bearer-anonymous:<id>`), and the sweep judges that: shortened to 10 minutes, the bearer's store
 * expiry is brought forward to 10 minutes after it was issued, with no request; shortened below its
 * age, the bearer is removed (its life record with it) and refused, and a known user's bearer is
 * untouched. By a reload (SIGHUP) of `serve --workers 2` on a real SQLite file, and by a rolling
 * restart of two replicas on a real Redis.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { gatewaySet } from '../support/process.js'
import { spareEndpointsYaml, TTL_CHANGE_TOPOLOGIES, ttlChangeGateways } from '../support/anonymous-ttl-change.js'
import { expiryReader } from '../support/store-expiry.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import type { StoreYaml } from '../oauth1-dance/dance-support.js'

const AUD = 'https://gateway.test'
const SECRET = 'unsealed-anon-sweep-secret-of-32-bytes!!'
const MIN = 60_000
/** How far an expiry read back may be off (Redis's from PTTL): far below the minutes that matter here. */
const SLACK_MS = 2000

let pki: TestPki
let upstream: RunningServer
let dir: string
const gateways = gatewaySet()

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => res.end('ok') })
  dir = mkdtempSync(join(tmpdir(), 'anon-sweep-unsealed-'))
})

afterAll(async () => {
  await gateways.killAll()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The config without store.sealKeys, with `anonymousTtl`. */
/** `endpoints` in all: partner and spares (spareEndpointsYaml). */
function writeConfig(file: string, location: StoreYaml, anonymousTtl: string, endpoints: number): string {
  const store = location.kind === 'sqlite' ? `{ kind: sqlite, file: ${location.file} }` : `{ kind: redis, url: "${location.url}", keyPrefix: "${location.keyPrefix}" }`
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
store: ${store}
callers:
  required: false
  bearerTtl: 1h
  anonymousTtl: ${anonymousTtl}
  apps:
    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }
endpoints:
${endpointYaml('partner', upstream.port, clientTls(pki))}${spareEndpointsYaml(endpoints, clientTlsYaml(pki))}`)
  return file
}

async function bearerFor(url: string, claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, jti: randomUUID(), ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

const call = async (url: string, bearer: string): Promise<number> => (await send(url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })).status

describe.each(TTL_CHANGE_TOPOLOGIES)('anonymousTtl shortened without store.sealKeys ($name)', ({ name, replicas, reload }) => {
  const prefix = uniqueRedisPrefix()
  afterAll(() => (replicas > 1 ? wipeRedisPrefix(prefix) : undefined))

  it("ends the anonymous user's bearer stored under the longer value; a known user's stays", async () => {
    const tag = name.split(',')[0] as string
    const location: StoreYaml = replicas > 1 ? { kind: 'redis', url: REDIS_URL, keyPrefix: prefix } : { kind: 'sqlite', file: join(dir, `${tag}.db`) }
    const file = join(dir, `${tag}.yaml`)
    const { at, shorten, stopAll } = await ttlChangeGateways(gateways, { replicas, reload }, (ttl, endpoints) => writeConfig(file, location, ttl, endpoints), '1h')
    const store: Store = openStore(location)
    const expiries = expiryReader(location)
    try {
      const issued = Date.now()
      const [anonBearer, kimBearer] = [await bearerFor(at(0), { sub: 'anon-1', isAnonymous: true }), await bearerFor(at(1), { sub: 'kim' })]
      expect([await call(at(1), anonBearer), await call(at(0), kimBearer)]).toEqual([200, 200])
      const bearerKeys = await store.keys('bearer:')
      expect(bearerKeys).toHaveLength(2)
      // Sealed under the bearers' own keys: nothing of either record in clear.
      for (const k of bearerKeys) expect(await store.get(k)).toMatch(/^v1\.bearer\./)
      const expiryOf = async (keys: readonly string[]): Promise<(number | null | undefined)[]> => Promise.all(keys.map((k) => expiries.expiry(k)))
      expect(Math.min(...((await expiryOf(bearerKeys)) as number[]))).toBeGreaterThan(issued + 50 * MIN)

      // 10 minutes: the anonymous user's bearer expires 10 minutes after it was issued, with no request.
      await shorten('10m')
      await eventually(async () => (await expiryOf(bearerKeys)).filter((e) => (e ?? Infinity) <= Date.now() + 10 * MIN + SLACK_MS).length === 1, 60_000, "the anonymous user's bearer to expire 10 minutes after it was issued")
      expect(Math.max(...((await expiryOf(bearerKeys)) as number[]))).toBeGreaterThan(Date.now() + 50 * MIN)

      // 1 second, which it has outlived: removed, its life record with it; the known user's stays and works.
      await eventually(() => Date.now() > issued + 1500, 10_000, 'the bearer to be older than 1 s')
      await shorten('1s')
      await eventually(async () => (await store.keys('bearer:')).length === 1, 60_000, "the anonymous user's bearer to be removed")
      expect(await store.keys('bearer-anonymous:')).toEqual([])
      expect(await call(at(0), anonBearer)).toBe(401)
      expect(await call(at(1), kimBearer)).toBe(200)
    } finally {
      expiries.close()
      await store.close()
      await stopAll()
    }
  }, 300_000)
})
