/**
 * The failure throttle across replicas whose clocks disagree, as docs/store.md states it: with
 * one replica's clock d ahead of another's (d ≤ a minute), in any real interval of length L
 * with L + d ≤ a minute at most `max + ⌈max × (L + d) / minute⌉` wrong attempts are admitted
 * (the minute each attempt is counted in is its own replica's); and a replica more than a
 * minute ahead may count apart: `2 × max` within a second.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createFailureThrottle } from '../../src/api/failure-throttle.js'
import { THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/sliding-window.js'
import { MemoryStore } from '../../src/store/index.js'

const ADDRESS = '10.7.7.8'

/** The largest excess over `max + ⌈max × (L + skew) / WINDOW⌉` of admitted attempts (real times, sorted) in any interval L with L + skew ≤ WINDOW. */
function worstExcess(times: readonly number[], max: number, skewMs: number): number {
  let worst = -Infinity
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length && (times[j] as number) - (times[i] as number) + skewMs <= WINDOW; j++) {
      const length = (times[j] as number) - (times[i] as number)
      worst = Math.max(worst, j - i + 1 - (max + Math.ceil((max * (length + skewMs)) / WINDOW)))
    }
  }
  return worst
}

/** Two replicas on one store, the second's clock `skewMs` ahead of the real time `now()`. */
function replicas(max: number, skewMs: number, now: () => number) {
  const store = new MemoryStore({ purgeIntervalMs: 0 })
  const at = [now, () => now() + skewMs]
  return { store, procs: at.map((clock) => createFailureThrottle({ name: 'skew', max, maxAddresses: 10, store: () => store, now: clock })) }
}

describe('failure throttle with replicas whose clocks disagree', () => {
  it('property: in any real interval L with L + d ≤ a minute, at most max + ⌈max·(L + d)/minute⌉ are admitted (1,000 runs)', async () => {
    const step = fc.record({ proc: fc.constantFrom(0, 1), later: fc.oneof(fc.constantFrom(0, 1, 1_000), fc.integer({ min: 0, max: WINDOW })), isRight: fc.constantFrom(false, false, false, true) })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: WINDOW }), fc.integer({ min: 0, max: WINDOW - 1 }), fc.array(step, { maxLength: 60 }), async (max, skewMs, start, steps) => {
        let now = 9 * WINDOW + start
        const { store, procs } = replicas(max, skewMs, () => now)
        const admittedWrong: number[] = []
        for (const { proc, later, isRight } of steps) {
          now += later
          const attempt = await procs[proc]!.admit(ADDRESS)
          if (!attempt.admitted) continue
          if (isRight) await attempt.release()
          else admittedWrong.push(now)
        }
        expect(worstExcess(admittedWrong, max, skewMs)).toBeLessThanOrEqual(0)
        await store.close()
      }),
      { seed: 0x5e3, numRuns: 1_000 },
    )
  })

  it('a replica more than a minute ahead may count in minutes the other does not read: 2 × max within a second', async () => {
    // The first replica at 0:59.5 of its minute, the second at 0:00.5 two minutes on (whose last minute is empty).
    let now = 10 * WINDOW - 500
    const { store, procs } = replicas(20, WINDOW + 1_000, () => now)
    let admitted = 0
    for (let i = 0; i < 100; i++, now += 5) if ((await procs[i % 2]!.admit(ADDRESS)).admitted) admitted += 1
    expect(admitted).toBe(40)
    await store.close()
  })
})
