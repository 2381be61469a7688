/**
 * A token exchange that fails in the store spends no `jti` for good: the caller's retry of the
 * same assertion gets its bearer. Before, the `jti` was spent first, and a store write after it
 * (the bearer record, the identityToMerge merge) that failed left the assertion refused as a
 * replay though no bearer was handed out. The store fails for real at each write of the exchange
 * in turn: SQLite with its write lock held by another connection (the write fails SQLITE_BUSY),
 * Redis (a server of the test's own, appendfsync always) stopped and started again on its data.
 * And whatever fails, two uses at once still get one bearer, and a third use is a replay.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompactEncrypt } from 'jose'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { compileGatewayKeys, exchangeAssertion, JWT_REPLAY, resolveBearer, type AssertionOptions, type BearerStores } from '../../src/callers/index.js'
import { GatewayError } from '../../src/errors.js'
import { createSealer, openRedisStore, openSqliteStore, type Store } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { AUDIENCE, HS_SECRET, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'

const WRITES = new Set(['put', 'putIfAbsent', 'delete', 'take', 'increment', 'decrementIfPositive'])
const gatewayKey = rsaPair()
const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gatewayKey.privatePem }])
const apps = testApps(rsaPair())
const dir = mkdtempSync(join(tmpdir(), 'exchange-outage-'))
const cleanups: (() => Promise<void> | void)[] = []

afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  rmSync(dir, { recursive: true, force: true })
})

/** A store outage: `begin` takes the store away, `end` brings it back. */
interface Outage {
  begin(): Promise<void>
  end(): Promise<void>
}

/**
 * `store`, its `nth` write (0-based; none when undefined) met by an outage: it begins just before
 * that write, which then fails for real, and ends once it has. `log` records each write as
 * `method key-kind`.
 */
function withOutage(store: Store, outage: Outage, nth: number | undefined, log: string[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const real: unknown = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || !WRITES.has(prop) || typeof real !== 'function') return typeof real === 'function' ? real.bind(target) : real
      return async (...args: unknown[]) => {
        const index = log.push(`${prop} ${String(args[0]).split(':')[0]}`) - 1
        if (index !== nth) return (real as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        await outage.begin()
        try {
          return await (real as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        } finally {
          await outage.end()
        }
      }
    },
  })
}

/** A fresh assertion with a `jti` and an identityToMerge; a JWE of it when `jwe`. */
async function assertion(jwe: boolean): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = await signHs({ iss: 'hs-app', aud: AUDIENCE, sub: 'user-1', identityToMerge: 'anon-1', jti: `j-${Math.random()}`, iat: now - 5, exp: now + 600 }, HS_SECRET)
  if (!jwe) return jwt
  return new CompactEncrypt(new TextEncoder().encode(jwt)).setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'k1', cty: 'JWT' }).encrypt(gatewayKey.publicKey)
}

/** POST /gateway/token's work on `store`: the merge stands for the dance's (one store write of the known user's). */
function exchange(store: Store, token: string): Promise<string> {
  const opts: AssertionOptions = { apps, keys, clockSkewSec: 30, claimAliasPrefix: '', replay: store }
  const stores: BearerStores = { store, claimsSealer: createSealer([{ id: 'c', key: Buffer.alloc(32, 7) }], 'c') }
  const merge = async (): Promise<void> => void (await store.put('oauth1:merged:user-1', 'anon-1', 60_000))
  return exchangeAssertion(token, opts, stores, 60, 60, merge).then(async ({ token: t }) => {
    await resolveBearer(t.access_token, stores, { ...opts, apps })
    return 'bearer'
  }, (e: unknown) => (e instanceof GatewayError ? (e.reason === 'jwt_replay' ? e.message : e.reason) : `unexpected ${String(e)}`))
}

/** Every write of an exchange met in turn by the outage: the exchange fails, its retry gets the bearer, a third use is a replay. */
async function everyWriteFailing(store: Store, outage: Outage, jwe: boolean): Promise<void> {
  const clean: string[] = []
  expect(await exchange(withOutage(store, outage, undefined, clean), await assertion(jwe))).toBe('bearer')
  const outcomes: string[] = []
  for (let nth = 0; nth < clean.length; nth++) {
    const token = await assertion(jwe)
    const first = await exchange(withOutage(store, outage, nth, []), token)
    outcomes.push(`${clean[nth] ?? ''}: ${first}, then ${await exchange(store, token)}, then ${await exchange(store, token)}`)
  }
  expect(outcomes).toEqual(clean.map((w) => `${w}: store_unavailable, then bearer, then ${JWT_REPLAY}`))
}

/** Six uses of one assertion at once: one bearer, five replays. */
async function concurrentUses(store: Store, jwe: boolean): Promise<void> {
  const token = await assertion(jwe)
  const outcomes = await Promise.all(Array.from({ length: 6 }, () => exchange(store, token)))
  expect(outcomes.sort()).toEqual(['bearer', ...Array(5).fill(JWT_REPLAY)].sort())
}

describe('a failed exchange gives its jti back: SQLite', () => {
  const file = join(dir, 'store.db')
  const store = openSqliteStore({ file, busyTimeoutMs: 50 })
  const locker = new Database(file)
  cleanups.push(() => void locker.close(), () => store.close())
  const lock: Outage = { begin: async () => void locker.exec('BEGIN IMMEDIATE'), end: async () => void locker.exec('ROLLBACK') }
  for (const jwe of [false, true]) {
    it(`${jwe ? 'JWE' : 'JWT'}: each write failing (the write lock held elsewhere) leaves the retry its bearer`, () => everyWriteFailing(store, lock, jwe))
    it(`${jwe ? 'JWE' : 'JWT'}: six uses at once get one bearer`, () => concurrentUses(store, jwe))
  }
})

describe('a failed exchange gives its jti back: Redis stopped and started again', () => {
  const data = join(dir, 'redis-data')
  const conf = (): string => `dir ${data}\nappendonly yes\nappendfsync always\n`
  let redis: Peer | undefined
  let store: Store | undefined
  const started = async (): Promise<Store> => {
    if (store) return store
    mkdirSync(data)
    redis = await startRedisServer({ conf })
    store = openRedisStore({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'outage:', commandTimeoutMs: 1000, connectTimeoutMs: 1000 })
    cleanups.push(async () => void (await store?.close()), async () => void (await redis?.stop()))
    return store
  }
  const restart: Outage = {
    begin: async () => void (await redis?.stop()),
    end: async () => {
      redis = await startRedisServer({ conf, port: redis?.port })
      await eventually(() => store?.ping().then(() => true, () => false), 30_000, 'the store reconnected')
    },
  }
  for (const jwe of [false, true]) {
    it(`${jwe ? 'JWE' : 'JWT'}: each write failing (Redis down) leaves the retry its bearer`, async () => everyWriteFailing(await started(), restart, jwe))
    it(`${jwe ? 'JWE' : 'JWT'}: six uses at once get one bearer`, async () => concurrentUses(await started(), jwe))
  }
})
