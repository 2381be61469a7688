/**
 * The failure throttle's count when the store misbehaves, on the real backends (a SQLite file,
 * the real Redis under a unique prefix): a counter an older version's take-back left at -1 is
 * never a credit (an increment and a take-and-check count it from 0); and take-and-checks that
 * land but whose replicas do not confirm them (Redis) on two processes at once let no more than
 * `max` through (the take's answer stands), where each process's own count let `max` each through;
 * a take-back that fails (a user without `decr`) is not retried and leaves its one counted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/failure-throttle.js'
import { openRedisStore, type Store } from '../../src/store/index.js'
import { startRedisServer } from '../support/redis-servers.js'
import { REDIS_URL, STORE_BACKENDS, uniqueRedisPrefix, wipeRedisPrefix, type StoreHarness } from '../support/store-backends.js'

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('failure throttle on counters older versions left at -1, on $name', (backend) => {
  let h: StoreHarness
  beforeEach(async () => {
    h = await backend.setup()
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('an increment and a take-and-check count a counter below 0 from 0, keeping its expiry', async () => {
    await h.store.put('c', '-1', 60_000)
    expect(await h.store.increment('c', 1, 1)).toBe(1)
    await new Promise((r) => setTimeout(r, 5))
    expect(await h.store.get('c')).toBe('1')
    await h.store.put('t:x:y:1', '-1', 60_000)
    expect(await h.store.incrementIfUnder([{ key: 't:x:y:1', weight: 1 }], 1, 1)).toEqual({ added: true, counts: [0] })
    await new Promise((r) => setTimeout(r, 5))
    expect(await h.store.get('t:x:y:1')).toBe('1')
    await h.store.put('d', '-3', 60_000)
    expect(await h.store.increment('d', -1, 60_000)).toBe(-1)
  })

  it('two processes (each its own count) on a minute whose counter is at -1 still let exactly max wrong attempts through', async () => {
    const now = 21 * WINDOW + 1_000
    // What an older version's take-back after expiry made: -1, with a fresh TTL.
    await h.store.put('throttle:old:v4_10.6.6.6:21', '-1', 2 * WINDOW)
    const make = (store: Store) => createFailureThrottle({ name: 'old', max: 3, maxAddresses: 10, store: () => store, now: () => now })
    const procs = [make(h.store), make(h.openPeer() as Store)]
    const turns: boolean[] = []
    for (let i = 0; i < 6; i++) turns.push((await procs[i % 2]!.admit('10.6.6.6')).admitted)
    expect(turns).toEqual([true, true, true, false, false, false])
    expect(await h.store.get('throttle:old:v4_10.6.6.6:21')).toBe('3')
  })
})

describe('failure throttle on a Redis whose writes land but replicas do not confirm them', () => {
  const keyPrefix = uniqueRedisPrefix()
  afterEach(async () => {
    await wipeRedisPrefix(keyPrefix)
  })

  it('two processes, 30 wrong attempts at once: at most max let through, as many as the store counts', async () => {
    // replicasToAcknowledge 1 on a server with none: WAIT answers 0 and every write throws after it ran.
    const stores = [0, 1].map(() => openRedisStore({ url: REDIS_URL, keyPrefix, acknowledge: { replicas: 1, timeoutMs: 20 } }))
    const plain = openRedisStore({ url: REDIS_URL, keyPrefix })
    try {
      const now = 22 * WINDOW + 1_000
      const procs = stores.map((store) => createFailureThrottle({ name: 'lost', max: 3, maxAddresses: 10, store: () => store, now: () => now }))
      const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => procs[i % 2]!.admit('10.6.6.7')))
      const admitted = burst.filter((a) => a.admitted).length
      expect(admitted).toBeLessThanOrEqual(3)
      expect(Number((await plain.get('throttle:lost:v4_10.6.6.7:22')) ?? 0)).toBe(admitted)
      // One at a time afterwards, each sees the others: exactly max in all.
      for (let i = 0; i < 6; i++) await procs[i % 2]!.admit('10.6.6.7')
      expect(await plain.get('throttle:lost:v4_10.6.6.7:22')).toBe('3')
    } finally {
      await Promise.all([...stores, plain].map((s) => s.close()))
    }
  })
})

describe('failure throttle whose take-backs fail (a Redis ACL user without decr, on a server of its own)', () => {
  it('a right secret\'s one stays counted, once (not retried): the address is refused one attempt sooner, never later', async () => {
    const redis = await startRedisServer({ conf: () => 'user gw on >gw-password ~* &* +@all -decr\n' })
    const store = openRedisStore({ url: `redis://127.0.0.1:${redis.port}`, username: 'gw', password: 'gw-password', keyPrefix: 'take-back:' })
    try {
      const t = createFailureThrottle({ name: 'nodecr', max: 3, maxAddresses: 10, store: () => store, now: () => 23 * WINDOW + 1_000 })
      await store.put('probe', '1', 60_000)
      await expect(store.decrementIfPositive('probe')).rejects.toThrow(/NOPERM|decr/i)
      const right = await t.admit('10.6.6.8')
      if (right.admitted) await right.release()
      expect(await store.get('throttle:nodecr:v4_10.6.6.8:23')).toBe('1')
      const turns: boolean[] = []
      for (let i = 0; i < 4; i++) turns.push((await t.admit('10.6.6.8')).admitted)
      expect(turns).toEqual([true, true, false, false])
      expect(await store.get('throttle:nodecr:v4_10.6.6.8:23')).toBe('3')
    } finally {
      await store.close()
      await redis.stop()
    }
  })
})
