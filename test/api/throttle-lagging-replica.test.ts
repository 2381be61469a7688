/**
 * The failure throttle's store writes with replicas whose clocks disagree: a replica whose clock
 * lags counts in a minute the others have left, so the attempts they counted are in its next
 * minute. Its take-and-check reads that one before it writes, so a refusal there writes nothing,
 * as anywhere else (it used to add one, read the next minute, and take its one back: two writes per refused
 * attempt, a flood from one address doubling the store's write load). On the real backends, and
 * as a seeded property with a fake clock over any lag up to a minute.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW, type FailureThrottle } from '../../src/api/failure-throttle.js'
import { MemoryStore, type BoundedIncrement, type Store } from '../../src/store/index.js'
import { STORE_BACKENDS, type StoreHarness } from '../support/store-backends.js'
import { interceptStore } from './throttle-support.js'

const ADDRESS = '10.6.6.6'

/** `inner`, and the writes made through it: every call but get, and a take-and-check only when it added (else it wrote nothing). */
function writesTo(inner: Store): { store: Store; writes: string[] } {
  const writes: string[] = []
  const seen = (method: string, result: unknown): unknown => {
    if (method === 'incrementIfUnder') return (result as Promise<BoundedIncrement>).then((r) => (r.added && writes.push(method), r))
    if (method !== 'get') writes.push(method)
    return result
  }
  return { store: interceptStore(inner, seen), writes }
}

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('a lagging replica on $name', (backend) => {
  let h: StoreHarness
  beforeEach(async () => {
    h = await backend.setup()
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('refuses what the others counted in its next minute without writing to the store', async () => {
    let now = 12 * WINDOW + 2_000
    const ahead = createFailureThrottle({ name: 'lag', max: 3, maxAddresses: 10, store: () => h.store, now: () => now })
    const { store, writes } = writesTo(h.openPeer() as Store)
    // Five seconds behind: 11:57 on its clock, so the others' minute 12 is its next one.
    const behind = createFailureThrottle({ name: 'lag', max: 3, maxAddresses: 10, store: () => store, now: () => now - 5_000 })
    for (let i = 0; i < 3; i++) expect((await ahead.admit(ADDRESS)).admitted).toBe(true)
    const refused = []
    for (let i = 0; i < 10; i++) refused.push(await behind.admit(ADDRESS))
    expect(refused.map((a) => a.admitted)).toEqual(Array<boolean>(10).fill(false))
    expect(writes).toEqual([])
    expect(await h.store.keys('throttle:lag:')).toEqual(['throttle:lag:v4_10.6.6.6:12'])
    // Its minute 12 (3 counted) weighs in full until its minute 13 starts: 3 s, then a minute.
    expect(refused[0]).toEqual({ admitted: false, key: ADDRESS, retryAfterSec: 63 })
    now += 63_000
    expect((await behind.admit(ADDRESS)).admitted).toBe(true)
  })
})

describe('replicas whose clocks disagree, one attempt at a time', () => {
  it('property: a refused attempt writes nothing and an admitted one writes once (twice for a right secret), whichever replica lags and by up to a minute (1,000 runs)', async () => {
    const step = fc.record({ proc: fc.constantFrom(0, 1), later: fc.oneof(fc.constantFrom(0, 1, 1_000), fc.integer({ min: 0, max: WINDOW })), isRight: fc.constantFrom(false, false, false, true) })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: -WINDOW, max: WINDOW }), fc.integer({ min: 0, max: WINDOW - 1 }), fc.array(step, { maxLength: 60 }), async (max, lagMs, start, steps) => {
        const shared = new MemoryStore({ purgeIntervalMs: 0 })
        let now = 9 * WINDOW + start
        const views = [writesTo(shared), writesTo(shared)] as const
        const clocks = [() => now, () => now - lagMs]
        const procs = views.map(({ store }, i) => createFailureThrottle({ name: 'lag', max, maxAddresses: 10, store: () => store, now: clocks[i] as () => number }))
        for (const { proc, later, isRight } of steps) {
          now += later
          const { writes } = views[proc]
          writes.length = 0
          const attempt = await (procs[proc] as FailureThrottle).admit(ADDRESS)
          if (!attempt.admitted) {
            expect(writes).toEqual([])
            continue
          }
          if (isRight) await attempt.release()
          expect(writes).toEqual(isRight ? ['incrementIfUnder', 'decrementIfPositive'] : ['incrementIfUnder'])
        }
        await shared.close()
      }),
      { seed: 0x1a9, numRuns: 1_000 },
    )
  })
})
