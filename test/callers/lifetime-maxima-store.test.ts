/**
 * `callers.bearerTtl`, `anonymousTtl` and `clockSkew` arm no timer, but each becomes a store TTL:
 * a bearer's record lives `bearerTtl` (an anonymous user's: at most `anonymousTtl`), and a seen
 * `jti` lives until `exp` plus the skew, where `exp` may itself be the skew and an hour ahead.
 * Redis holds an expiry as milliseconds since 1970 in a signed 64-bit integer: with no maximum,
 * `bearerTtl: 3000000000000h` loaded (start, `check`, reload) and then every POST /gateway/token on
 * Redis failed (`ERR invalid expire time in 'set' command`, a 503). A config that loads must work at
 * use: for any written lifetimes, either the load refuses them or an exchange at their edge (an
 * assertion whose `iat` is the skew ahead, `exp` an hour after it, a `jti`, known or anonymous)
 * issues a bearer that resolves, on the real Redis and a real SQLite file.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { parseConfig, type GatewayConfig } from '../../src/config/index.js'
import { openStore, type Store } from '../../src/store/index.js'
import { exchangeAssertion, resolveBearer, type AssertionOptions } from '../../src/callers/index.js'
import { claims, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const FILE = '/etc/mtls-gateway/gateway.yaml'
const ENDPOINT = { name: 'partner', url: 'https://api.partner.test', tls: { cert: 'c.pem', key: 'k.pem', roots: 'r.pem' } }
const apps = testApps(rsaPair())
const prefix = uniqueRedisPrefix()
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-lifetimes-'))
let stores: [string, Store][] = []

beforeAll(async () => {
  stores = [['redis', openStore({ kind: 'redis', url: REDIS_URL, keyPrefix: prefix })], ['sqlite', openStore({ kind: 'sqlite', file: join(dir, 'state.db') })]]
  for (const [, s] of stores) await s.ping()
})

afterAll(async () => {
  for (const [, s] of stores) await s.close()
  await wipeRedisPrefix(prefix)
  rmSync(dir, { recursive: true, force: true })
})

/** The callers section as written, or undefined when the load refuses it. */
function load(callers: Record<string, string>): GatewayConfig['callers'] | undefined {
  try {
    return parseConfig(FILE, stringify({ endpoints: [ENDPOINT], callers }), { env: {} }).callers
  } catch (e) {
    if (e instanceof ConfigError) return undefined
    throw e
  }
}

/** A written number of hours from 1 to 9·10^15 (a digit and up to 15 zeros): every order of magnitude alike. */
const hours = fc.noBias(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 15 })).map(([d, zeros]) => `${d}${'0'.repeat(zeros)}h`))
/** Around Redis's limit (about 2.56·10^12 h) and the maxima. */
const edges = fc.constantFrom('3000000000000h', '2000000000000h', '1000000000000h', '500000000000h', '1000000000001h', '500000000001h')
const lifetime = fc.oneof(hours, edges)
/** clockSkew: any number of seconds up to its 1h maximum, and just past it. */
const skew = fc.oneof(fc.integer({ min: 0, max: 3600 }).map((sec) => `${sec}s`), fc.constantFrom('1h', '3601s', '2h'))

/** What POST /gateway/token does (api/token.ts), at the edge the config allows, then the bearer resolved. */
async function exchangeAtEdge(c: GatewayConfig['callers'], store: Store, isAnonymous: boolean): Promise<void> {
  const opts: AssertionOptions = { apps, keys: new Map(), clockSkewSec: c.clockSkewSec, claimAliasPrefix: '', replay: store }
  const iat = Math.floor(Date.now() / 1000) + c.clockSkewSec
  const assertion = await signHs(claims('hs-app', { iat, exp: iat + 3600, jti: `j-${randomUUID()}`, isAnonymous, sub: `u-${randomUUID()}` }))
  const { token } = await exchangeAssertion(assertion, opts, { store }, c.bearerTtlSec, c.anonymousTtlMs / 1000)
  expect(await resolveBearer(token.access_token, { store }, opts)).toMatchObject({ appId: 'hs-app', isAnonymous })
}

it('lifetimes that load work at use on Redis and SQLite (or the load refuses them)', async () => {
  let used = 0
  await fc.assert(
    fc.asyncProperty(lifetime, lifetime, skew, fc.boolean(), async (bearerTtl, anonymousTtl, clockSkew, isAnonymous) => {
      const c = load({ bearerTtl, anonymousTtl, clockSkew })
      if (c === undefined) return
      used++
      for (const [, store] of stores) await exchangeAtEdge(c, store, isAnonymous)
    }),
    { seed: 0x5e7, numRuns: 60 },
  )
  expect(used).toBeGreaterThan(10)
}, 120_000)

it('each at its maximum loads and works at use, known and anonymous', async () => {
  const c = load({ bearerTtl: '1000000000000h', anonymousTtl: '1000000000000h', clockSkew: '1h' })
  expect(c).toBeDefined()
  for (const [, store] of stores) for (const isAnonymous of [false, true]) await exchangeAtEdge(c as GatewayConfig['callers'], store, isAnonymous)
})
