/**
 * A Redis write its replicas did not confirm (WAIT short of `replicasToAcknowledge`) fails
 * store_unavailable but is not remembered for the request as a store that does not answer is: the
 * primary took it, and the request's later writes must reach the store too (the admin throttle's
 * take-back after an increment: skipping it left the store counting attempts it had given back,
 * test/oauth1-dance/admin-throttle-property.test.ts). Each later write is sent and waits for its
 * own acknowledgement. A real redis-server with no replica, behind a relay that counts the commands.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRedisStore, withOneStoreWait, type RedisStore } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import type { Peer } from '../support/peers.js'
import { startRedisCommandRelay, type RedisCommandRelay } from '../support/redis-command-relay.js'
import { startRedisServer } from '../support/redis-servers.js'

const PREFIX = `request-wait-${randomBytes(4).toString('hex')}:`
let redis: Peer
let relay: RedisCommandRelay
let store: RedisStore

beforeAll(async () => {
  redis = await startRedisServer()
  relay = await startRedisCommandRelay(redis.port)
  // One replica must confirm each write; the server has none, so every WAIT answers 0.
  store = openRedisStore({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix: PREFIX, commandTimeoutMs: 3000, connectTimeoutMs: 1000, acknowledge: { replicas: 1, timeoutMs: 100 } })
  await eventually(() => store.get('warm-up').then(() => true), 20_000, 'the store connected')
}, 60_000)

afterAll(async () => {
  await store?.close()
  await relay?.close()
  await redis?.stop()
}, 30_000)

const failureOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

describe('a Redis write no replica confirmed, within one request', () => {
  it('fails store_unavailable; the request\'s later writes are still sent and land, each with its own WAIT', async () => {
    await withOneStoreWait(async () => {
      const unconfirmed = (await failureOf(store.put('k', 'v'))) as { reason?: string; message?: string }
      expect(unconfirmed?.reason).toBe('store_unavailable')
      expect(unconfirmed?.message).toMatch(/put reached 0 of 1 replicas within 100 ms; not acknowledged$/)
      expect(relay.count('wait')).toBe(1)
      for (const write of [() => store.put('k2', 'v2'), () => store.increment('n', 1), () => store.increment('n', 1), () => store.decrementIfPositive('n')]) {
        const failure = (await failureOf(write())) as { reason?: string } | undefined
        expect(failure?.reason).toBe('store_unavailable')
        expect(failure).not.toBe(unconfirmed)
      }
      expect(relay.count('wait')).toBe(5)
      // Every write landed on the primary, which answers reads at once.
      expect([await store.get('k'), await store.get('k2'), await store.get('n')]).toEqual(['v', 'v2', '1'])
    })
  }, 60_000)
})
