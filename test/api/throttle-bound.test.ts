/**
 * What the failure throttle's sliding window guarantees, whatever the attempt times: in any
 * interval of length L ≤ one minute, at most `max + ⌈max × L / minute⌉` wrong attempts of
 * one source key are admitted (so `max + 1` around a minute's boundary for `max` ≤ 60, where
 * a fixed window admitted `2 × max` within a millisecond), and `Retry-After` is exact: the
 * attempt that many seconds later is admitted, one second sooner it is refused. Checked over
 * random attempt times on a fake clock, one process through store outages or two processes
 * on one store; and the Retry-After arithmetic on its own against the rule.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createFailureThrottle, type FailureThrottle } from '../../src/api/failure-throttle.js'
import { estimateReaches, msUntilAdmitted, retryAfterSeconds, THROTTLE_WINDOW_MS as WINDOW, type WindowCounts } from '../../src/api/sliding-window.js'
import { MemoryStore } from '../../src/store/index.js'
import { FlakyStore, interceptStore } from './throttle-support.js'

const ADDRESS = '10.7.7.7'

/** The most admitted wrong attempts (times, sorted) in any interval of length L, for every L ≤ WINDOW, over its bound. */
function worstExcess(times: readonly number[], max: number): number {
  let worst = -Infinity
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length && (times[j] as number) - (times[i] as number) <= WINDOW; j++) {
      const length = (times[j] as number) - (times[i] as number)
      worst = Math.max(worst, j - i + 1 - (max + Math.ceil((max * length) / WINDOW)))
    }
  }
  return worst
}

describe('failure throttle bound', () => {
  it('property: in any interval of length L ≤ a minute at most max + ⌈max·L/minute⌉ wrong attempts are admitted; Retry-After is exact (1,000 runs)', async () => {
    const step = fc.record({
      proc: fc.constantFrom(0, 1),
      later: fc.oneof(fc.constantFrom(0, 1, 999, 1_000, WINDOW / 2, WINDOW - 1, WINDOW), fc.integer({ min: 0, max: 2 * WINDOW })),
      isRight: fc.constantFrom(false, false, false, true),
      obey: fc.boolean(),
      flip: fc.constantFrom(false, false, false, true),
    })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.integer({ min: 0, max: WINDOW - 1 }), fc.array(step, { maxLength: 50 }), async (max, twoProcesses, start, steps) => {
        const shared = new MemoryStore({ purgeIntervalMs: 0 })
        const stores = [new FlakyStore(shared), new FlakyStore(shared)] as const
        let now = 5 * WINDOW + start
        const procs = stores.map((store) => createFailureThrottle({ name: 'bound', max, maxAddresses: 10, store: () => store, now: () => now }))
        const admittedWrong: number[] = []
        for (const { proc, later, isRight, obey, flip } of steps) {
          // Outages only with one process: two processes each counting alone may each admit max.
          const p = twoProcesses ? proc : 0
          if (flip && !twoProcesses) stores[0].down = !stores[0].down
          now += later
          const t = procs[p] as FailureThrottle
          const attempt = await t.admit(ADDRESS)
          if (attempt.admitted) {
            if (isRight) await attempt.release()
            else admittedWrong.push(now)
            continue
          }
          if (!obey) continue
          // Retry-After exact: one second short is refused (a refusal counts nothing), on time is admitted.
          const wait = attempt.retryAfterSec * 1_000
          if (wait > 1_000) {
            now += wait - 1_000
            expect((await t.admit(ADDRESS)).admitted).toBe(false)
          }
          now += Math.min(wait, 1_000)
          expect((await t.admit(ADDRESS)).admitted).toBe(true)
          admittedWrong.push(now)
        }
        expect(worstExcess(admittedWrong, max)).toBeLessThanOrEqual(0)
        await shared.close()
      }),
      { seed: 0xb0da, numRuns: 1_000 },
    )
  })

  it('property: attempts in flight together across a boundary, their store calls answered in any order, stay within the bound (500 runs)', async () => {
    const start = fc.record({ proc: fc.constantFrom(0, 1), later: fc.constantFrom(0, 0, 1, 500) })
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 3 }), fc.array(start, { minLength: 1, maxLength: 8 }), async (s, max, starts) => {
        const shared = new MemoryStore({ purgeIntervalMs: 0 })
        // Each call takes effect when made; the scheduler picks when each caller hears back.
        const store = interceptStore(shared, (_method, result) => s.schedule(result as Promise<unknown>))
        let now = 5 * WINDOW - 2
        const procs = [0, 1].map(() => createFailureThrottle({ name: 'race', max, maxAddresses: 10, store: () => store, now: () => now }))
        const attempts = starts.map(({ proc, later }) => {
          now += later
          const at = now
          return (procs[proc] as FailureThrottle).admit(ADDRESS).then((a) => (a.admitted ? [at] : []))
        })
        const admitted = (await s.waitFor(Promise.all(attempts))).flat().sort((x, y) => x - y)
        expect(worstExcess(admitted, max)).toBeLessThanOrEqual(0)
        await shared.close()
      }),
      { seed: 0x4ace, numRuns: 500 },
    )
  })

  it('property: msUntilAdmitted is the first millisecond the rule admits again (5,000 runs)', () => {
    // The rule at `ms` after `elapsed`, nothing counted meanwhile: past the window's end this one's count is the previous.
    // (The next window's count, seen only in a race, becomes the current one, then the previous.)
    const reaches = ({ current, previous, next }: Required<WindowCounts>, at: number, max: number): boolean =>
      at < WINDOW ? estimateReaches({ current, previous, next }, at, max)
        : at < 2 * WINDOW ? estimateReaches({ current: next, previous: current }, at - WINDOW, max)
          : estimateReaches({ current: 0, previous: next }, at - 2 * WINDOW, max)
    const count = fc.oneof(fc.nat({ max: 40 }), fc.nat({ max: 400 }))
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), count, count, fc.oneof(fc.constant(0), count), fc.nat({ max: WINDOW - 1 }), (max, current, previous, next, elapsed) => {
        const ms = msUntilAdmitted({ current, previous, next }, elapsed, max)
        expect(reaches({ current, previous, next }, elapsed + ms, max)).toBe(false)
        if (ms > 0) expect(reaches({ current, previous, next }, elapsed + ms - 1, max)).toBe(true)
        expect(ms).toBeLessThanOrEqual(3 * WINDOW)
      }),
      { seed: 0x5eed, numRuns: 5_000 },
    )
  })

  it('property: while no count is above max and none is in the next minute, Retry-After is at most 60 s, also for a limit reached in a minute\'s first millisecond (5,000 runs)', () => {
    // The last 60 s are (t − 60 s, t]: an attempt exactly a minute old no longer weighs, so a
    // burst at 0:00.000 leaves 1:00.000 free (60 s, where a 60.001 s window gave 61).
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.nat({ max: 30 }), fc.nat({ max: 30 }), fc.oneof(fc.constant(0), fc.nat({ max: WINDOW - 1 })), (max, a, b, elapsed) => {
        const counts = { current: Math.min(a, max), previous: Math.min(b, max) }
        expect(retryAfterSeconds(counts, elapsed, max)).toBeLessThanOrEqual(60)
      }),
      { seed: 0x60, numRuns: 5_000 },
    )
  })
})
