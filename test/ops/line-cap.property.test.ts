import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLineCap, startLineCap, type SuppressedLines } from '../../src/ops/line-cap.js'

// The cap on caller-fault log lines (logging.callerFaults), driven with fake time: a hostile
// client chooses when its events happen and which reasons they carry.
const KEYS = ['proxy\u0000request\u0000bad_request', 'proxy\u0000tls_handshake\u0000bad_request', 'admin\u0000request\u0000not_found']

const step = fc.record({
  key: fc.constantFrom(...KEYS),
  // Bursts (0 ms apart) as well as gaps longer than an interval.
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3000 })),
  // The timer firing (late or on time) between events.
  tick: fc.boolean(),
})

describe('line cap (property, fake time)', () => {
  it('never lets more than burst lines per key through in any interval, and the summaries count exactly the lines held back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 1000 }), fc.array(step, { maxLength: 400 }), (burst, intervalMs, steps) => {
        const cap = createLineCap()
        const settings = { burst, intervalMs }
        const logged = new Map<string, number[]>(KEYS.map((k) => [k, []]))
        const summaries: SuppressedLines[] = []
        let now = 1_000_000
        for (const s of steps) {
          now += s.dt
          if (s.tick) summaries.push(...cap.due(now))
          if (cap.take(s.key, now, settings)) logged.get(s.key)?.push(now)
        }
        summaries.push(...cap.due(Infinity))
        for (const times of logged.values()) {
          // Every span of intervalMs ending at a written line holds at most burst written lines.
          for (const t of times) expect(times.filter((u) => u > t - intervalMs && u <= t).length).toBeLessThanOrEqual(burst)
        }
        for (const key of KEYS) {
          const events = steps.filter((s) => s.key === key).length
          const said = summaries.filter((x) => x.key === key).reduce((n, x) => n + x.suppressed, 0)
          expect(said + (logged.get(key)?.length ?? 0)).toBe(events)
        }
        expect(summaries.every((x) => x.suppressed > 0 && x.intervalMs === intervalMs)).toBe(true)
        expect(cap.nextDue()).toBeUndefined()
      }),
      { seed: 0x11ca7, numRuns: 1500 },
    )
  })

  it('writes a summary once the interval after the first held-back line ends, with no further event', () => {
    let now = 0
    const said: SuppressedLines[] = []
    const cap = startLineCap(() => ({ burst: 2, intervalMs: 40 }), (s) => said.push(s), () => now)
    expect([cap.take('k'), cap.take('k'), cap.take('k'), cap.take('k')]).toEqual([true, true, false, false])
    expect(said).toEqual([])
    now = 40
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        expect(said).toEqual([{ key: 'k', suppressed: 2, intervalMs: 40 }])
        resolve()
      }, 120)
    })
  })

  it('interval 0 turns the cap off', () => {
    const cap = createLineCap()
    for (let i = 0; i < 1000; i++) expect(cap.take('k', 5, { burst: 0, intervalMs: 0 })).toBe(true)
    expect(cap.due(Infinity)).toEqual([])
  })
})
