import { describe, expect, it } from 'vitest'
import { nextCrashDelay } from '../../src/ops/crash-backoff.js'

describe('the --workers crash backoff', () => {
  it('doubles from 100 ms per crash in the last 30 s, at most 5 s, and forgets older crashes', () => {
    const crashes: number[] = []
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => nextCrashDelay(crashes, 1_000_000 + i * 1000))
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000])
    // 31 s after the last: only this crash is within 30 s.
    expect(nextCrashDelay(crashes, 1_000_000 + 7000 + 31_000)).toBe(100)
    expect(crashes).toHaveLength(1)
  })
})
