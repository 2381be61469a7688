/**
 * The failure throttle while its store does not answer (a redis-server of this test's own, held
 * with SIGSTOP) and the machine's clock steps: the process's own count keeps its minutes on a
 * clock that never steps, so a step back (or forward) neither frees an address early nor keeps
 * it refused: it is free again once a minute of its attempts has really passed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/failure-throttle.js'
import { openRedisStore, type Store } from '../../src/store/index.js'
import { eventually, START_DEADLINE_MS } from '../support/eventually.js'
import type { Peer } from '../support/peers.js'
import { startRedisServer } from '../support/redis-servers.js'
import { sendSignal } from '../support/signals.js'

describe('failure throttle through a store outage while the clock steps', () => {
  let redis: Peer
  let store: Store
  beforeAll(async () => {
    redis = await startRedisServer()
    // 150 ms: each command the outage makes wait fails that soon. The first ping waits for the
    // connection and its ready check too, which take longer than that on a loaded machine: asked
    // again until the store answers.
    store = openRedisStore({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'clock-step:', commandTimeoutMs: 150 })
    await eventually(() => store.ping().then(() => true), START_DEADLINE_MS, 'the store to answer its ping')
  })
  afterAll(async () => {
    vi.useRealTimers()
    if (redis) sendSignal(redis.pid, 'SIGCONT')
    await store?.close()
    await redis?.stop()
  })

  it('a step back or forward neither frees the address early nor keeps it refused', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: 40 * WINDOW + 30_000 })
    const t = createFailureThrottle({ name: 'step', max: 3, maxAddresses: 10, store: () => store })
    const admitted = async (): Promise<boolean> => (await t.admit('10.5.5.5')).admitted
    sendSignal(redis.pid, 'SIGSTOP')
    expect([await admitted(), await admitted(), await admitted(), await admitted()]).toEqual([true, true, true, false])
    // NTP steps the clock back five minutes: the minute of those three has not passed.
    vi.setSystemTime(Date.now() - 5 * WINDOW)
    expect(await admitted()).toBe(false)
    // And forward an hour: still not.
    vi.setSystemTime(Date.now() + 60 * WINDOW)
    expect(await admitted()).toBe(false)
    // Two minutes really pass (with the clock stepped back again meanwhile): free again, for max.
    vi.advanceTimersByTime(2 * WINDOW)
    vi.setSystemTime(Date.now() - 90 * WINDOW)
    expect([await admitted(), await admitted(), await admitted(), await admitted()]).toEqual([true, true, true, false])
  })
})
