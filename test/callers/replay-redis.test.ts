import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { openStore, type Store } from '../../src/store/index.js'
import {
  exchangeAssertion, JTI_RETENTION_FLOOR_SEC, JWT_REPLAY, resolveBearer, verifyAssertion, type AssertionOptions, type BearerStores,
} from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'
import { REDIS_URL, uniqueRedisPrefix } from '../support/store-backends.js'

// Two "replicas": two independent Redis connections sharing one key space, as two gateway
// processes would. Redis must be running (MTLS_GATEWAY_TEST_REDIS, see test/support/store-backends.ts).
const url = REDIS_URL
const keyPrefix = uniqueRedisPrefix()
const apps = testApps(rsaPair())
let replica1: Store
let replica2: Store

beforeAll(async () => {
  replica1 = openStore({ kind: 'redis', url, keyPrefix })
  replica2 = openStore({ kind: 'redis', url, keyPrefix })
  await replica1.ping()
  await replica2.ping()
})

afterAll(async () => {
  for (const k of await replica1.keys('')) await replica1.delete(k)
  await replica1.close()
  await replica2.close()
})

const now = (): number => Date.now()
const jti = (): string => `j-${randomUUID()}`

describe('jti replay across replicas sharing Redis', () => {
  it('a jti seen by one replica is refused by the other with the exact text', async () => {
    const jwt = await signHs(claims('hs-app', { jti: jti(), iat: Math.floor(now() / 1000) - 5, exp: Math.floor(now() / 1000) + 60 }))
    await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', replay: replica1 })
    const e: unknown = await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', replay: replica2 }).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(GatewayError)
    expect([(e as GatewayError).reason, (e as GatewayError).message]).toEqual(['jwt_replay', JWT_REPLAY])
  })
  it('of the same assertion raced on both replicas, exactly one wins', async () => {
    const t = Math.floor(now() / 1000)
    const jwt = await signHs(claims('hs-app', { jti: jti(), iat: t - 5, exp: t + 60 }))
    const attempts = Array.from({ length: 10 }, (_, i) =>
      verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', replay: i % 2 === 0 ? replica1 : replica2 }),
    )
    const results = await Promise.allSettled(attempts)
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  })
  it('keeps the jti in Redis, under the documented key, until exp plus the larger of skew and an hour (then Redis forgets it)', async () => {
    const t = Math.floor(now() / 1000)
    const id = jti()
    const jwt = await signHs(claims('hs-app', { jti: id, iat: t - 5, exp: t + 1 }))
    await verifyAssertion(jwt, apps, { clockSkewSec: 1, claimAliasPrefix: '', replay: replica1 })
    const checkedAt = now()
    expect(await replica2.get(`jti:hs-app:${id}`)).toBe('1')
    // Redis's own expiry, read back: past exp + this replica's 1 s skew (a replica allowing more
    // skew still finds it), at most until exp + JTI_RETENTION_FLOOR_SEC (no sleep and exact check).
    const raw = new Redis(url)
    try {
      const pttl = await raw.pttl(`${keyPrefix}jti:hs-app:${id}`)
      expect(pttl).toBeGreaterThan((t + 1 + 1) * 1000 - checkedAt)
      expect(pttl).toBeLessThanOrEqual((t + 1 + JTI_RETENTION_FLOOR_SEC) * 1000 - checkedAt + 1000)
    } finally {
      raw.disconnect()
    }
  })
  it('a bearer issued through one replica resolves on the other', async () => {
    const opts = (replay: Store): AssertionOptions => ({ apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay })
    const stores = (store: Store): BearerStores => ({ store })
    const t = Math.floor(now() / 1000)
    const { token } = await exchangeAssertion(await signHs(claims('hs-app', { jti: jti(), iat: t, exp: t + 60 })), opts(replica1), stores(replica1), 60)
    const caller = await resolveBearer(token.access_token, stores(replica2), { ...opts(replica2), apps })
    expect(caller).toMatchObject({ appId: 'hs-app', sub: 'user-1' })
  })
})
