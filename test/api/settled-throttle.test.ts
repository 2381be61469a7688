/**
 * The settled throttle (settled-throttle.ts): an address is refused for failures that settled,
 * never for attempts of its still in flight, while parallel wrong attempts stay bounded by the
 * places beneath it (failure-throttle.ts). Seeded properties over replicas on one store whose
 * calls take effect and answer in any order the scheduler picks, batches of right and wrong
 * attempts in flight together (more than `max` of them): the wrong ones let through stay within
 * `max + ⌈max·L/minute⌉`, and no attempt is refused before `max` wrong ones were let through.
 * Before, every attempt held a place until it settled, so past `max` at once right ones were
 * refused as if they had failed. Then the outage (each process's own counts) and a place held
 * by no attempt (a process killed mid-attempt): waited for, then refused as the places stand.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/sliding-window.js'
import { createSettledThrottle, type SettledThrottle } from '../../src/api/settled-throttle.js'
import { MemoryStore, type Store } from '../../src/store/index.js'
import { FlakyStore } from './throttle-support.js'

const ADDRESS = '10.7.7.8'

/** The largest excess over `max + ⌈max × L / WINDOW⌉` of admitted attempts (times, sorted) in any interval L ≤ WINDOW. */
function worstExcess(times: readonly number[], max: number): number {
  let worst = -Infinity
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length && times[j]! - times[i]! <= WINDOW; j++) worst = Math.max(worst, j - i + 1 - (max + Math.ceil((max * (times[j]! - times[i]!)) / WINDOW)))
  }
  return worst
}

/** `inner` whose every call takes effect, and is answered, when the scheduler says. */
function scheduledStore(inner: Store, s: fc.Scheduler): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown
      if (typeof v !== 'function' || prop === 'close') return v
      return async (...args: unknown[]) => {
        await s.schedule(Promise.resolve(), `call ${String(prop)}`)
        const result = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        await s.schedule(Promise.resolve(), `reply ${String(prop)}`)
        return result
      }
    },
  })
}

interface Outcomes {
  /** When each wrong attempt let through was stamped. */
  wrongAdmitted: number[]
  /** For each refusal: how many wrong attempts had been let through when it came, and whether it was for attempts in flight. */
  refusals: { wrongBefore: number; inFlight: boolean }[]
}

/** Runs batches of attempts, each batch in flight together until the scheduler settles it. */
async function runBatches(s: fc.Scheduler, batches: readonly { gap: number; attempts: readonly { proc: number; later: number; isRight: boolean }[] }[], at: { now: number }, procs: readonly SettledThrottle[]): Promise<Outcomes> {
  const out: Outcomes = { wrongAdmitted: [], refusals: [] }
  for (const { gap, attempts } of batches) {
    at.now += gap
    const inFlight = attempts.map(async ({ proc, later, isRight }) => {
      at.now += later
      const stamp = at.now
      const a = await (procs[proc % procs.length] as SettledThrottle).admit(ADDRESS)
      if (!a.admitted) return void out.refusals.push({ wrongBefore: out.wrongAdmitted.length, inFlight: a.inFlight })
      if (!isRight) out.wrongAdmitted.push(stamp)
      await a.settle(!isRight)
    })
    await s.waitFor(Promise.all(inFlight))
  }
  out.wrongAdmitted.sort((x, y) => x - y)
  return out
}

describe('settled throttle', () => {
  it('property: replicas on one store, more than max attempts in flight at once, calls in any order: wrong ones within max + ⌈max·L/minute⌉, no refusal before max wrong ones were let through (150 runs)', async () => {
    const attempt = fc.record({ proc: fc.nat({ max: 2 }), later: fc.oneof(fc.constantFrom(0, 0, 1), fc.integer({ min: 0, max: 2_000 })), isRight: fc.constantFrom(false, true, true, true) })
    const batch = fc.record({ gap: fc.oneof(fc.constantFrom(0, 1, WINDOW - 1, WINDOW), fc.integer({ min: 0, max: WINDOW })), attempts: fc.array(attempt, { minLength: 1, maxLength: 14 }) })
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: WINDOW - 1 }), fc.array(batch, { minLength: 1, maxLength: 4 }), async (s, max, processes, start, batches) => {
        const shared = new MemoryStore({ purgeIntervalMs: 0 })
        const store = scheduledStore(shared, s)
        const at = { now: 7 * WINDOW + start }
        // No wait is cut short here: the clock moves only with the attempts.
        const procs = Array.from({ length: processes }, () => createSettledThrottle({ name: 'settled', max, maxAddresses: 10, store: () => store, now: () => at.now, waitMs: 100 * WINDOW }))
        const out = await runBatches(s, batches, at, procs)
        expect(worstExcess(out.wrongAdmitted, max)).toBeLessThanOrEqual(0)
        for (const r of out.refusals) expect(r).toEqual({ wrongBefore: expect.toSatisfy((n: number) => n >= max), inFlight: false })
        await shared.close()
      }),
      { seed: Number(process.env.SEED ?? 0x5e771), numRuns: Number(process.env.RUNS ?? 150) },
    )
  }, 240_000)

  it('with no store (or one that does not answer) each process counts alone by the same rule: 3·max right attempts at once all let through; then max wrong ones, and the next is refused with Retry-After from them', async () => {
    const flaky = new FlakyStore(new MemoryStore({ purgeIntervalMs: 0 }))
    flaky.down = true
    for (const store of [() => undefined, () => flaky]) {
      const now = 11 * WINDOW + 30_000
      const t = createSettledThrottle({ name: 'alone', max: 3, maxAddresses: 10, store, now: () => now })
      const right = await Promise.all(Array.from({ length: 9 }, async () => {
        const a = await t.admit(ADDRESS)
        if (a.admitted) await a.settle(false)
        return a.admitted
      }))
      expect(right).toEqual(Array<boolean>(9).fill(true))
      const wrong = await Promise.all(Array.from({ length: 6 }, async () => {
        const a = await t.admit(ADDRESS)
        if (a.admitted) await a.settle(true)
        return a.admitted ? 'admitted' : a
      }))
      expect(wrong.filter((w) => w === 'admitted')).toHaveLength(3)
      // 3 this minute: refused until the next minute's start, 30 s on.
      expect(wrong.filter((w) => w !== 'admitted')).toEqual(Array(3).fill({ admitted: false, key: ADDRESS, retryAfterSec: 30, inFlight: false }))
    }
    await flaky.close()
  })

  it('a place held by no attempt (a process killed mid-attempt): waited for, then refused as the places stand once the wait is over', async () => {
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    const steady = { now: 0 }
    const now = 13 * WINDOW + 45_000
    // What a killed process left: both places of the minute taken, nothing failed.
    await store.increment(`throttle:leak:v4_${ADDRESS}:13`, 2, 2 * WINDOW)
    const t = createSettledThrottle({ name: 'leak', max: 2, maxAddresses: 10, store: () => store, now: () => now, steadyNow: () => steady.now, waitMs: 5_000 })
    let settled = false
    const waiting = t.admit(ADDRESS).finally(() => (settled = true))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(settled).toBe(false)
    steady.now += 5_000
    // The places free at the next minute's start, 15 s on.
    expect(await waiting).toEqual({ admitted: false, key: ADDRESS, retryAfterSec: 15, inFlight: true })
    await store.close()
  })

  it('a settle counts once, and a failure counts in the minute its attempt began', async () => {
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    let now = 17 * WINDOW - 1
    const t = createSettledThrottle({ name: 'once', max: 5, maxAddresses: 10, store: () => store, now: () => now })
    const a = await t.admit(ADDRESS)
    if (!a.admitted) throw new Error('refused')
    now += 1
    await a.settle(true)
    await a.settle(true)
    await a.settle(false)
    expect(await store.get(`throttle:once-failed:v4_${ADDRESS}:16`)).toBe('1')
    expect(await store.get(`throttle:once-failed:v4_${ADDRESS}:17`)).toBeUndefined()
    expect(await store.get(`throttle:once:v4_${ADDRESS}:16`)).toBe('1')
    await store.close()
  })
})
