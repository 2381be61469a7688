/**
 * The in-process count behind the failure throttle: per key and fixed window, a claim past
 * the limit is refused, a release gives one back, another key or the next window is not
 * affected, and the map stays within its cap (the key that claimed least recently goes).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLocalThrottle } from '../../src/api/local-throttle.js'

describe('in-process throttle', () => {
  it('property: a claim is admitted exactly while fewer than max are counted for its key and window (5,000 runs)', () => {
    const step = fc.record({ key: fc.constantFrom('a', 'b', 'c'), release: fc.boolean(), later: fc.constantFrom(0, 0, 0, 1) })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 80 }), (max, steps) => {
        const throttle = createLocalThrottle({ max, maxAddresses: 3 })
        // The model: the claims each key holds in each window, never forgotten.
        const held = new Map<string, number>()
        let window = 7
        for (const { key, release, later } of steps) {
          window += later
          const id = `${key}@${window}`
          const n = held.get(id) ?? 0
          if (release) {
            throttle.release(key, window)
            held.set(id, Math.max(0, n - 1))
          } else {
            expect(throttle.claim(key, window)).toBe(n < max)
            if (n < max) held.set(id, n + 1)
          }
          expect(throttle.count(key, window)).toBe(held.get(id) ?? 0)
        }
      }),
      { seed: 0x10ca1, numRuns: 5_000 },
    )
  })

  it('evicts the key that claimed least recently when the cap is reached', () => {
    const throttle = createLocalThrottle({ max: 2, maxAddresses: 2 })
    for (const k of ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3']) expect(throttle.claim(k, 0)).toBe(true)
    expect(throttle.size).toBe(2)
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((k) => throttle.count(k, 0))).toEqual([2, 0, 1])
    expect(throttle.claim('10.0.0.1', 0)).toBe(false)
    expect(throttle.claim('10.0.0.1', 1)).toBe(true)
  })
})
