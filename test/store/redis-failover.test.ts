/**
 * A Sentinel failover under load, with real servers: one primary, one replica, three
 * Sentinels. Two store instances (two gateway replicas) write and read users' tokens and
 * exchange jti-carrying assertions while the primary is killed with SIGKILL; the old primary
 * comes back (as an orchestrator would restart it) and Sentinel makes it the new replica.
 * Afterwards every acknowledged token is readable, no jti was accepted twice, every failure
 * was a named 503, and no operation hung.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exchangeAssertion, type AssertionOptions, type BearerStores } from '../../src/callers/index.js'
import { isGatewayError } from '../../src/errors.js'
import { createSealer, getRecord, openRedisStore, parseSealKey, putRecord, type RedisStoreOptions, type Store } from '../../src/store/index.js'
import { claims, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'
import { eventually, startSentinelSet, type SentinelSet } from '../support/redis-servers.js'

const sealer = createSealer([{ id: 'k1', key: parseSealKey(randomBytes(32).toString('hex')) }], 'k1')
const apps = testApps(rsaPair())
// A generous bound: an operation still pending after this has hung (the store's own bound is 2.5 s).
const HUNG_MS = 15_000
let set: SentinelSet
const stores: Store[] = []

function open(keyPrefix: string): Store {
  const o: RedisStoreOptions = {
    sentinel: { sentinels: set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), primaryName: set.primaryName },
    keyPrefix,
    acknowledge: { replicas: 1, timeoutMs: 1000 },
    commandTimeoutMs: 1500,
    connectTimeoutMs: 1000,
  }
  const s = openRedisStore(o)
  stores.push(s)
  return s
}

beforeAll(async () => {
  set = await startSentinelSet()
})

afterAll(async () => {
  for (const s of stores) await s.close()
  await set?.stop()
})

interface Tally {
  acknowledged: Map<string, string>
  accepted: string[]
  failures: string[]
  slowest: number
  writesAfter: () => number
}

describe('Redis Sentinel failover', () => {
  it('loses nothing acknowledged, accepts no replayed jti, fails only with store_unavailable, never hangs', async () => {
    const prefix = `mtls-gateway-test:${randomUUID()}:`
    const [a, b] = [open(prefix), open(prefix)]
    const stores2 = (store: Store): BearerStores => ({ store })
    const opts = (replay: Store): AssertionOptions => ({ apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay })
    const assertions = new Map<string, string>()
    let phase: 'before' | 'after' = 'before'
    let afterCount = 0
    const tally: Tally = { acknowledged: new Map(), accepted: [], failures: [], slowest: 0, writesAfter: () => afterCount }

    const timed = async (what: string, op: () => Promise<void>): Promise<void> => {
      const t0 = Date.now()
      try {
        await op()
      } catch (e) {
        // A named 503 is the only acceptable failure; anything else is recorded verbatim.
        tally.failures.push(isGatewayError(e) && e.reason === 'store_unavailable' ? 'store_unavailable' : `${what}: ${String(e)}`)
        // Bounded load: a store failing fast must not turn the workers into a busy loop.
        await sleep(50)
      } finally {
        tally.slowest = Math.max(tally.slowest, Date.now() - t0)
      }
    }

    let running = true
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const [mine, other] = (w + i) % 2 ? [a, b] : [b, a]
        const user = `u${w}-${i}`
        const key = `oauth1:token:${user}:partner:`
        const value = randomUUID()
        await timed('saveToken', async () => {
          await putRecord(mine, sealer, key, { token: value, tokenSecret: 's' }, ['token', 'tokenSecret'])
          tally.acknowledged.set(key, value)
          if (phase === 'after') afterCount++
        })
        await timed('findToken', async () => {
          const got = await getRecord<{ token: string }>(other, sealer, key, ['token'])
          if (tally.acknowledged.has(key) && got?.token !== value) throw new Error(`token ${key} unreadable right after its write`)
        })
        const t = Math.floor(Date.now() / 1000)
        const jti = `j-${w}-${i}-${randomUUID()}`
        const jwt = await signHs(claims('hs-app', { jti, iat: t, exp: t + 300 }))
        assertions.set(jti, jwt)
        await timed('exchange', async () => {
          await exchangeAssertion(jwt, opts(mine), stores2(mine), 60)
          tally.accepted.push(jti)
        })
        // The same assertion at the other replica, at once: never accepted.
        await timed('replay', async () => {
          const refused = await exchangeAssertion(jwt, opts(other), stores2(other), 60).then(
            () => false,
            (e: unknown) => {
              if (isGatewayError(e) && e.reason === 'jwt_replay') return true
              throw e
            },
          )
          if (!refused) tally.accepted.push(jti)
        })
      }
    }
    const load = Promise.all([0, 1, 2, 3].map(worker))

    await eventually('20 acknowledged writes before the failover', async () => tally.acknowledged.size >= 20)
    const killed = await set.killPrimary()
    // Restarted in place, empty (no persistence): Sentinel turns it into the new primary's replica.
    await killed.restart()
    phase = 'after'
    await eventually('20 acknowledged writes after the failover', async () => afterCount >= 20, 40_000)
    running = false
    await load

    expect(tally.failures.filter((f) => f !== 'store_unavailable')).toEqual([])
    console.log(`failover: ${tally.acknowledged.size} tokens acknowledged, ${tally.accepted.length} assertions accepted, ${tally.failures.length} store_unavailable, slowest ${tally.slowest} ms`)
    expect(tally.slowest).toBeLessThan(HUNG_MS)
    // Every jti was tried twice; each was accepted at most once.
    expect(new Set(tally.accepted).size).toBe(tally.accepted.length)
    const fresh = open(prefix)
    const lost: string[] = []
    for (const [key, value] of tally.acknowledged) {
      if ((await getRecord<{ token: string }>(fresh, sealer, key, ['token']))?.token !== value) lost.push(key)
    }
    // One run on a loaded machine lost acknowledged tokens: if it happens again, say what the
    // Sentinels and servers did (a second failover? a resync from an empty server?).
    expect(lost, `${lost.length} of ${tally.acknowledged.size} acknowledged tokens unreadable after the failover; what Redis logged:\n${set.history()}`).toEqual([])
    // Replays after the failover, at either replica: refused.
    for (const jti of tally.accepted.slice(0, 50)) {
      const e: unknown = await exchangeAssertion(assertions.get(jti) as string, opts(fresh), stores2(fresh), 60).catch((err: unknown) => err)
      expect(isGatewayError(e) && e.reason, jti).toBe('jwt_replay')
    }
    await expect(fresh.ping()).resolves.toBeUndefined()
  })
})
