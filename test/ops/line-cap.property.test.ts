import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLineCap, MAX_NAMED_CLIENTS, startLineCap, type SuppressedLines } from '../../src/ops/line-cap.js'

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

  it('writes a summary once the interval after the first held-back line ends, with no further event', async () => {
    let now = 0
    const said: SuppressedLines[] = []
    const cap = startLineCap(() => ({ burst: 2, intervalMs: 40 }), (s) => said.push(s), () => now)
    expect([cap.take('k'), cap.take('k'), cap.take('k'), cap.take('k')]).toEqual([true, true, false, false])
    expect(said).toEqual([])
    now = 40
    // Awaited, then asserted: an assertion thrown in a timer callback would hang until the test's timeout.
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(said).toEqual([{ key: 'k', suppressed: 2, intervalMs: 40, clients: {}, otherClientLines: 2 }])
  })

  it('interval 0 turns the cap off', () => {
    const cap = createLineCap()
    for (let i = 0; i < 1000; i++) expect(cap.take('k', 5, { burst: 0, intervalMs: 0 })).toBe(true)
    expect(cap.due(Infinity)).toEqual([])
  })

  it('a summary names the clients held back: one client using up the budget does not hide another failing the same way', () => {
    // Hostile: any mix of up to 20 addresses (more than the named bound) and lines without one.
    const client = fc.option(fc.integer({ min: 0, max: 19 }).map((i) => `10.0.0.${i}`), { nil: undefined })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.record({ client, dt: fc.integer({ min: 0, max: 30 }) }), { maxLength: 300 }), (burst, events) => {
        const cap = createLineCap()
        const settings = { burst, intervalMs: 100 }
        const held: (string | undefined)[] = []
        const summaries: SuppressedLines[] = []
        let now = 0
        for (const e of events) {
          now += e.dt
          const due = cap.due(now)
          summaries.push(...due)
          if (!cap.take('k', now, settings, e.client)) held.push(e.client)
        }
        summaries.push(...cap.due(Infinity))
        for (const x of summaries) {
          expect(Object.keys(x.clients).length).toBeLessThanOrEqual(MAX_NAMED_CLIENTS)
          expect(Object.values(x.clients).reduce((n, c) => n + c, 0) + x.otherClientLines).toBe(x.suppressed)
        }
        // Every address held back is named with its count, unless the window had more addresses than the bound.
        const named = new Map<string, number>()
        for (const x of summaries) for (const [a, c] of Object.entries(x.clients)) named.set(a, (named.get(a) ?? 0) + c)
        const unnamed = summaries.reduce((n, x) => n + x.otherClientLines, 0)
        const addressed = held.filter((a): a is string => a !== undefined)
        if (new Set(addressed).size <= MAX_NAMED_CLIENTS) {
          for (const a of new Set(addressed)) expect(named.get(a)).toBe(addressed.filter((b) => b === a).length)
          expect(unnamed).toBe(held.length - addressed.length)
        }
      }),
      { seed: 0x11ca8, numRuns: 500 },
    )
  })

  it("an attacker exhausting the budget first: the victim's one held-back line is named in the summary", () => {
    const cap = createLineCap()
    const settings = { burst: 20, intervalMs: 10_000 }
    for (let i = 0; i < 1000; i++) cap.take('k', i, settings, '203.0.113.9')
    expect(cap.take('k', 1000, settings, '10.1.2.3')).toBe(false)
    expect(cap.due(Infinity)).toEqual([{ key: 'k', suppressed: 981, intervalMs: 10_000, clients: { '203.0.113.9': 980, '10.1.2.3': 1 }, otherClientLines: 0 }])
  })

  it('an interval longer than a timer can hold (1000h) does not spin the summary timer', async () => {
    let reads = 0
    const cap = startLineCap(() => ({ burst: 0, intervalMs: 3_600_000_000 }), () => undefined, () => (reads++, 0))
    expect(cap.take('k')).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 100))
    // take() reads the clock twice; an overflowed timer fires every 1 ms and reads it again each time.
    expect(reads).toBeLessThan(5)
    cap.flush()
  })
})
