/**
 * The failure throttle when the store stops answering in the middle of an attempt, after its
 * increment landed: the attempt is admitted on this process's count, and a right secret still
 * gives its place back in the store (else a right attempt counts there as a wrong one).
 */
import { describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/failure-throttle.js'
import { MemoryStore } from '../../src/store/index.js'
import { FlakyStore, interceptStore } from './throttle-support.js'

describe('failure throttle with the store failing mid-attempt', () => {
  it('an increment followed by reads that fail: admitted, and a right secret takes its one back from the store', async () => {
    const inner = new MemoryStore({ purgeIntervalMs: 0 })
    const flaky = new FlakyStore(inner)
    // The store goes away right after each increment has answered.
    const store = interceptStore(flaky, (method, result) =>
      method === 'increment' ? (result as Promise<number>).then((n) => ((flaky.down = true), n)) : result,
    )
    const t = createFailureThrottle({ name: 'test', max: 3, maxAddresses: 100, store: () => store, now: () => 9 * WINDOW + 1_000 })
    const attempt = await t.admit('10.2.2.2')
    expect(attempt.admitted).toBe(true)
    expect(await inner.get('throttle:test:v4_10.2.2.2:9')).toBe('1')
    flaky.down = false
    if (attempt.admitted) await attempt.release()
    expect(await inner.get('throttle:test:v4_10.2.2.2:9')).toBe('0')
    await inner.close()
  })
})
