/**
 * The in-process count behind the failure throttle: per key, a claim is refused while this
 * window's count plus the last window's, weighted by what is left of it, reaches the limit;
 * a refused claim counts nothing, a release gives one back, another key is not affected, and
 * the map stays within its cap (the key that claimed least recently goes).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createFailureThrottle } from '../../src/api/failure-throttle.js'
import { createLocalThrottle } from '../../src/api/local-throttle.js'
import { THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/sliding-window.js'

describe('in-process throttle', () => {
  it('property: a claim is admitted exactly while the weighted count of its key is under max (5,000 runs)', () => {
    // A release names the window its claim was made in: this one, or (a claim held across the boundary) the last one.
    const step = fc.record({ key: fc.constantFrom('a', 'b', 'c'), release: fc.boolean(), back: fc.constantFrom(0, 0, 1), later: fc.constantFrom(0, 0, 0, 1, 2), elapsed: fc.constantFrom(0, 1, 30_000, WINDOW - 1) })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 80 }), (max, steps) => {
        const throttle = createLocalThrottle({ max, maxAddresses: 3 })
        // The model: the claims each key holds in each window, never forgotten.
        const held = new Map<string, number>()
        let window = 7
        for (const { key, release, back, later, elapsed } of steps) {
          window += later
          const id = `${key}@${window}`
          const n = held.get(id) ?? 0
          if (release) {
            const claimedIn = `${key}@${window - back}`
            throttle.release(key, window - back)
            held.set(claimedIn, Math.max(0, (held.get(claimedIn) ?? 0) - 1))
          }
          const previous = held.get(`${key}@${window - 1}`) ?? 0
          if (!release) {
            const under = n * WINDOW + previous * (WINDOW - 1 - elapsed) < max * WINDOW
            expect(throttle.claim(key, window, elapsed)).toBe(under)
            if (under) held.set(id, n + 1)
          }
          expect(throttle.counts(key, window)).toMatchObject({ current: held.get(id) ?? 0, previous })
        }
      }),
      { seed: 0x10ca1, numRuns: 5_000 },
    )
  })

  it('evicts the key that claimed least recently when the cap is reached', () => {
    const throttle = createLocalThrottle({ max: 2, maxAddresses: 2 })
    for (const k of ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3']) expect(throttle.claim(k, 0, 0)).toBe(true)
    expect(throttle.size).toBe(2)
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((k) => throttle.counts(k, 0).current)).toEqual([2, 0, 1])
    expect(throttle.claim('10.0.0.1', 0, 0)).toBe(false)
    // The next window weighs the 2 by the share of the last one still within 60 s: at its start
    // 2 × 59,999/60,000 < 2 lets one in; then 1 + 2 × (59,999 − e)/60,000 reaches 2 until e = ½ minute.
    expect([throttle.claim('10.0.0.1', 1, 0), throttle.claim('10.0.0.1', 1, 1), throttle.claim('10.0.0.1', 1, WINDOW / 2)]).toEqual([true, false, true])
  })

  it('through the failure throttle with no store: a right secret compared across a minute\'s boundary gives its place back', async () => {
    let now = 4 * WINDOW - 100
    const admitted = async (): Promise<boolean> => (await t.admit('10.3.3.3')).admitted
    const t = createFailureThrottle({ name: 'local', max: 3, maxAddresses: 10, store: () => undefined, now: () => now })
    const right = await t.admit('10.3.3.3')
    expect(await admitted()).toBe(true)
    now = 4 * WINDOW + 100
    expect(await admitted()).toBe(true)
    if (right.admitted) await right.release()
    // Last minute's one wrong attempt and this one's 1, then 2: 2 + 1 × 59,799/60,000 < 3 (the right one still counted would make it 3.99).
    now += 100
    expect([await admitted(), await admitted()]).toEqual([true, true])
  })
})
