/**
 * One store wait per request holds for a Redis write its replicas did not confirm (WAIT short of
 * `replicasToAcknowledge`), not only for a command that did not answer: that failure is raised
 * after the command answered, and the request's later writes, each of which would wait
 * acknowledgeTimeout again, fail at once with it, sending nothing, while its reads (which the
 * primary answers at once) go on. A real redis-server with no replica, behind a relay that counts
 * the commands it is sent.
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
  it('fails store_unavailable; the request\'s later writes fail with it at once, sending nothing, and its reads answer', async () => {
    await withOneStoreWait(async () => {
      const unconfirmed = (await failureOf(store.put('k', 'v'))) as { reason?: string; message?: string }
      expect(unconfirmed?.reason).toBe('store_unavailable')
      expect(unconfirmed?.message).toMatch(/put reached 0 of 1 replicas within 100 ms; not acknowledged$/)
      expect(relay.count('wait')).toBe(1)
      const keysSent = relay.count(PREFIX, 'startsWith')
      for (const write of [() => store.put('k2', 'v'), () => store.putIfAbsent('k3', 'v'), () => store.increment('n', 1), () => store.decrementIfPositive('n'), () => store.delete('k'), () => store.take('k')]) {
        expect(await failureOf(write())).toBe(unconfirmed)
      }
      expect(relay.count(PREFIX, 'startsWith'), 'commands sent for the writes after the failure').toBe(keysSent)
      expect(relay.count('wait')).toBe(1)
      // The primary took the write and answers reads at once.
      expect(await store.get('k')).toBe('v')
    })
    // Another request writes (and waits) on its own.
    expect(await withOneStoreWait(() => failureOf(store.put('k4', 'v')))).toMatchObject({ reason: 'store_unavailable' })
    expect(relay.count('wait')).toBe(2)
  }, 60_000)
})
