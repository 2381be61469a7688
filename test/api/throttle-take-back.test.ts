/**
 * Giving a place back in the failure throttle's store count, on the real backends (a SQLite
 * file, the real Redis under a unique prefix): a right secret's take-back after its counter
 * vanished (expired) makes no counter at -1, which let the next process through once more that
 * minute; a take-and-check whose reply is lost after it landed is still given back by a right
 * secret (the attempt admitted on this process's count), which before stayed counted as a wrong
 * attempt; and on a Redis whose replicas do not confirm writes the take's answer stands (it
 * landed) and a right secret's give-back lands though it fails as unconfirmed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW, type Attempt } from '../../src/api/failure-throttle.js'
import { GatewayError } from '../../src/errors.js'
import { openRedisStore, type Store } from '../../src/store/index.js'
import { REDIS_URL, STORE_BACKENDS, uniqueRedisPrefix, wipeRedisPrefix, type StoreHarness } from '../support/store-backends.js'
import { interceptStore } from './throttle-support.js'

const release = async (a: Attempt): Promise<void> => {
  expect(a.admitted).toBe(true)
  if (a.admitted) await a.release()
}

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('failure throttle take-backs on $name', (backend) => {
  let h: StoreHarness
  beforeEach(async () => {
    h = await backend.setup()
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('a right secret whose counter vanished before it gave its place back leaves no counter: another process still gets exactly max', async () => {
    const now = 11 * WINDOW + 1_000
    const make = (store: Store) => createFailureThrottle({ name: 'back', max: 3, maxAddresses: 10, store: () => store, now: () => now })
    const [a, b] = [make(h.store), make(h.openPeer() as Store)]
    const right = await a.admit('10.4.4.4')
    // The counter goes as its expiry would take it.
    expect(await h.store.delete('throttle:back:v4_10.4.4.4:11')).toBe(true)
    await release(right)
    expect(await h.store.keys('throttle:back:')).toEqual([])
    const turns: boolean[] = []
    for (let i = 0; i < 5; i++) turns.push((await b.admit('10.4.4.4')).admitted)
    expect(turns).toEqual([true, true, true, false, false])
  })

  it('a take-and-check whose reply is lost after it landed: admitted, and a right secret still gives its one back', async () => {
    // A reply lost after the call landed, as on a network: the store says a failed call may have landed.
    const lost = interceptStore(
      h.store,
      (method, result) => (method === 'incrementIfUnder' ? (result as Promise<unknown>).then(() => Promise.reject(new GatewayError('store_unavailable', 'the reply was lost (test)'))) : result),
      () => true,
    )
    const t = createFailureThrottle({ name: 'back', max: 3, maxAddresses: 10, store: () => lost, now: () => 12 * WINDOW + 1_000 })
    await release(await t.admit('10.4.4.5'))
    expect(await h.store.get('throttle:back:v4_10.4.4.5:12')).toBe('0')
    expect((await t.admit('10.4.4.5')).admitted).toBe(true)
    expect(await h.store.get('throttle:back:v4_10.4.4.5:12')).toBe('1')
  })
})

describe('failure throttle on a Redis whose writes replicas do not confirm', () => {
  const keyPrefix = uniqueRedisPrefix()
  afterEach(async () => {
    await wipeRedisPrefix(keyPrefix)
  })

  it('every write lands unconfirmed (the test server has no replica): the take\'s answer stands, a right secret gives its one back, a wrong one stays counted', async () => {
    // replicasToAcknowledge 1 on a server with none: WAIT answers 0 and every write throws after it ran.
    const acknowledged = openRedisStore({ url: REDIS_URL, keyPrefix, acknowledge: { replicas: 1, timeoutMs: 20 } })
    const plain = openRedisStore({ url: REDIS_URL, keyPrefix })
    try {
      const t = createFailureThrottle({ name: 'back', max: 3, maxAddresses: 10, store: () => acknowledged, now: () => 13 * WINDOW + 1_000 })
      await expect(acknowledged.increment('probe', 1, 60_000)).rejects.toThrow(/reached 0 of 1 replicas/)
      expect(await plain.get('probe')).toBe('1')
      // The take-and-check lands and answers all the same; a refusal writes nothing.
      expect(await acknowledged.incrementIfUnder([{ key: 'probe', weight: 1 }], 2, 60_000)).toEqual({ added: true, counts: [1] })
      expect(await acknowledged.incrementIfUnder([{ key: 'probe', weight: 1 }], 2, 60_000)).toEqual({ added: false, counts: [2] })
      expect(await plain.get('probe')).toBe('2')
      await release(await t.admit('10.4.4.6'))
      expect(await plain.get('throttle:back:v4_10.4.4.6:13')).toBe('0')
      expect((await t.admit('10.4.4.6')).admitted).toBe(true)
      expect(await plain.get('throttle:back:v4_10.4.4.6:13')).toBe('1')
    } finally {
      await Promise.all([acknowledged.close(), plain.close()])
    }
  })
})
