/**
 * The failure throttle when the store fails at each point of an attempt, on one process: before
 * its take-and-check (nothing lands), during it (it lands, its reply is lost), and after it (the
 * take answered, the give-back fails). The attempt is admitted on this process's count whenever
 * the take did not answer; a take that may have landed is given back by a right secret (else a
 * right attempt counts in the store as a wrong one), never below 0 nor by making a counter; a
 * give-back the store did not take leaves its one counted (refused sooner, never later).
 */
import { describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW, type Attempt } from '../../src/api/failure-throttle.js'
import { MemoryStore } from '../../src/store/index.js'
import { FlakyStore, interceptStore } from './throttle-support.js'

const KEY = 'throttle:test:v4_10.2.2.2:9'

/** A throttle on a memory store that can be down; each reply of `lost` is lost after the call landed, and the store goes away with it. */
function faultyThrottle(lost?: string): { inner: MemoryStore; flaky: FlakyStore; admit(): Promise<Attempt> } {
  const inner = new MemoryStore({ purgeIntervalMs: 0 })
  const flaky = new FlakyStore(inner)
  const lose = (): Promise<never> => ((flaky.down = true), Promise.reject(new Error('the reply was lost (test)')))
  const store = interceptStore(flaky, (method, result) => (method === lost ? (result as Promise<unknown>).then(lose) : result))
  const t = createFailureThrottle({ name: 'test', max: 3, maxAddresses: 100, store: () => store, now: () => 9 * WINDOW + 1_000 })
  return { inner, flaky, admit: () => t.admit('10.2.2.2') }
}

const release = async (a: Attempt): Promise<void> => {
  expect(a.admitted).toBe(true)
  if (a.admitted) await a.release()
}

describe('failure throttle with the store failing mid-attempt', () => {
  it('before the take (nothing lands): admitted on this process\'s count; its give-back makes no counter', async () => {
    const f = faultyThrottle()
    f.flaky.down = true
    const attempt = await f.admit()
    f.flaky.down = false
    expect(await f.inner.get(KEY)).toBeUndefined()
    await release(attempt)
    expect(await f.inner.keys('')).toEqual([])
    await f.inner.close()
  })

  it('during the take (it lands, its reply is lost): admitted, and a right secret takes its one back from the store', async () => {
    const f = faultyThrottle('incrementIfUnder')
    const attempt = await f.admit()
    expect(attempt.admitted).toBe(true)
    expect(await f.inner.get(KEY)).toBe('1')
    f.flaky.down = false
    await release(attempt)
    expect(await f.inner.get(KEY)).toBe('0')
    await f.inner.close()
  })

  it('after the take (the give-back fails): its one stays counted, once; this process\'s count gave it back', async () => {
    const f = faultyThrottle()
    const attempt = await f.admit()
    expect(await f.inner.get(KEY)).toBe('1')
    f.flaky.down = true
    await release(attempt)
    expect(await f.inner.get(KEY)).toBe('1')
    f.flaky.down = false
    const turns: boolean[] = []
    for (let i = 0; i < 3; i++) turns.push((await f.admit()).admitted)
    expect(turns).toEqual([true, true, false])
    expect(await f.inner.get(KEY)).toBe('3')
    await f.inner.close()
  })
})
