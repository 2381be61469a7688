/**
 * The store-backed failure throttle on the real backends (a SQLite file, the real Redis
 * under a unique prefix): exactly `max` wrong attempts per window per source key, right
 * ones given back, other keys unaffected, shared by two processes' connections even when
 * their attempts run at once; store keys of the documented layout. With a store whose calls
 * reject it falls back to the in-process count: still throttled, nobody locked out. A
 * property checks the decision against an independent model over random interleavings of
 * addresses, two processes and outages.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW, type FailureThrottle } from '../../src/api/failure-throttle.js'
import { GatewayError } from '../../src/errors.js'
import { MemoryStore, type Store } from '../../src/store/index.js'
import { STORE_BACKENDS, type StoreHarness } from '../support/store-backends.js'
import { ADDRESSES, FlakyStore, interceptStore } from './throttle-support.js'

const wrong = async (t: FailureThrottle, address: string): Promise<boolean> => (await t.admit(address)).admitted
const right = async (t: FailureThrottle, address: string): Promise<boolean> => {
  const attempt = await t.admit(address)
  if (attempt.admitted) await attempt.release()
  return attempt.admitted
}

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('failure throttle on $name', (backend) => {
  let h: StoreHarness
  beforeEach(async () => {
    h = await backend.setup()
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('admits exactly max wrong attempts per window per address key; right ones are given back; other keys and the next window start fresh', async () => {
    let now = 1_000 * WINDOW + 5_000
    const t = createFailureThrottle({ name: 'test', max: 5, maxAddresses: 100, store: () => h.store, now: () => now })
    for (let i = 0; i < 5; i++) {
      expect(await right(t, '2001:db8::1')).toBe(true)
      expect(await wrong(t, `2001:db8::${i + 2}`)).toBe(true)
    }
    // The same /64 in another spelling, right token or wrong: refused, with the rest of the window
    // (at the next one's start the last one's 5 weigh 59,999/60,000 of 5: under 5, admitted).
    expect(await wrong(t, '2001:DB8:0:0:ffff::9')).toBe(false)
    expect(await right(t, '2001:db8::1')).toBe(false)
    expect(await t.admit('2001:db8::1')).toEqual({ admitted: false, key: '2001:db8:0:0::/64', retryAfterSec: 55 })
    for (const other of ['2001:db8:0:1::1', '10.0.0.1', '::ffff:10.0.0.2']) expect(await right(t, other)).toBe(true)
    // One counter for the /64 and the window, the address one segment of the key (no ':' from
    // IPv6): the 5 wrong attempts (this process's own count refused the next ones before the
    // store); right ones gave theirs back, leaving 0 until the key expires.
    const keys = await h.store.keys('throttle:')
    const counts = await Promise.all(keys.map(async (k) => [k, await h.store.get(k)]))
    expect(counts).toEqual([['throttle:test:v4_10.0.0.1:1000', '0'], ['throttle:test:v4_10.0.0.2:1000', '0'], ['throttle:test:v6_2001-db8-0-0:1000', '5'], ['throttle:test:v6_2001-db8-0-1:1000', '0']])
    now += WINDOW
    expect(await wrong(t, '2001:db8::1')).toBe(true)
  })

  it('two processes (a second connection, each its own in-process count) share the count, also with their attempts all at once', async () => {
    const peer = h.openPeer() as Store
    const make = (store: Store): FailureThrottle => createFailureThrottle({ name: 'test', max: 5, maxAddresses: 100, store: () => store })
    const [a, b] = [make(h.store), make(peer)]
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).admit('10.9.8.7')))
    // Each process alone would admit 5; together they admit 5.
    expect(burst.filter((x) => x.admitted)).toHaveLength(5)
    // The attempts that lost a race took their one back: the counters hold the 5 admitted.
    const held = await Promise.all((await h.store.keys('throttle:test:v4_10.9.8.7:')).map(async (k) => Number(await h.store.get(k))))
    expect(held.reduce((x, y) => x + y, 0)).toBe(5)
    const turns: boolean[] = []
    for (let i = 0; i < 12; i++) turns.push(await wrong(i % 2 ? a : b, '10.9.8.6'))
    expect(turns.filter(Boolean)).toHaveLength(5)
    expect([await right(a, '10.9.8.5'), await right(b, '10.9.8.5')]).toEqual([true, true])
  })

  it('across a minute\'s boundary the last minute weighs in on another process: one more, not a second burst; Retry-After exact', async () => {
    let now = 2_000 * WINDOW - 1
    const make = (store: Store): FailureThrottle => createFailureThrottle({ name: 'test', max: 4, maxAddresses: 100, store: () => store, now: () => now })
    const [a, b] = [make(h.store), make(h.openPeer() as Store)]
    for (let i = 0; i < 4; i++) expect(await wrong(a, '10.9.9.9')).toBe(true)
    now += 1
    // 0 + 4 × (60,000 − 1 − 0) / 60,000 is under 4: one more is admitted at the boundary. A
    // millisecond later 1 + 4 × (59,999 − e) / 60,000 reaches 4 until e passes 14,999 ms.
    expect(await wrong(b, '10.9.9.9')).toBe(true)
    now += 1
    expect(await a.admit('10.9.9.9')).toEqual({ admitted: false, key: '10.9.9.9', retryAfterSec: 15 })
    now += 14_998
    expect([await wrong(a, '10.9.9.9'), await wrong(b, '10.9.9.9')]).toEqual([false, false])
    now += 1
    expect([await wrong(a, '10.9.9.9'), await wrong(b, '10.9.9.9')]).toEqual([true, false])
  })

  it('counters an old fixed-window replica moved (its refused attempts counted too) weigh like wrong attempts', async () => {
    let now = 3_000 * WINDOW + 30_000
    const t = createFailureThrottle({ name: 'test', max: 5, maxAddresses: 100, store: () => h.store, now: () => now })
    await h.store.increment('throttle:test:v4_10.9.9.8:2999', 50, 2 * WINDOW)
    // 50 × ½ reaches 5 until 50 × (59,999 − e) < 5 × 60,000, e > 53,999 ms: 24 s from now.
    expect(await t.admit('10.9.9.8')).toEqual({ admitted: false, key: '10.9.9.8', retryAfterSec: 24 })
    now += 23_999
    expect(await wrong(t, '10.9.9.8')).toBe(false)
    now += 1
    expect(await wrong(t, '10.9.9.8')).toBe(true)
  })
})

/** Every call a throttle makes on a store, by method. */
function recordingStore(inner: Store): { store: Store; calls: string[] } {
  const calls: string[] = []
  return { store: interceptStore(inner, (method, result) => (calls.push(method), result)), calls }
}

describe('failure throttle store writes', () => {
  it('one take-and-check per attempt (its one added only when admitted), on one key per address and window, whatever the flood; a right secret adds one giving back', async () => {
    const inner = new MemoryStore({ purgeIntervalMs: 0 })
    const { store, calls } = recordingStore(inner)
    const t = createFailureThrottle({ name: 'test', max: 20, maxAddresses: 100, store: () => store, now: () => 7 * WINDOW })
    // Two processes: each in-process count holds only its own admitted attempts, so all 60 reach the store.
    const other = createFailureThrottle({ name: 'test', max: 20, maxAddresses: 100, store: () => store, now: () => 7 * WINDOW })
    const admitted = [] as boolean[]
    for (let i = 0; i < 30; i++) admitted.push(await wrong(t, '10.1.1.1'), await wrong(other, '10.1.1.1'))
    expect(admitted.filter(Boolean)).toHaveLength(20)
    // No read of its own and no re-read: the take-and-check reads this minute's, the last one's and the next one's counters.
    expect(calls).toEqual(Array<string>(60).fill('incrementIfUnder'))
    expect(await inner.get('throttle:test:v4_10.1.1.1:7')).toBe('20')
    expect(await inner.keys('')).toEqual(['throttle:test:v4_10.1.1.1:7'])
    calls.length = 0
    expect(await right(t, '10.1.1.2')).toBe(true)
    expect(calls).toEqual(['incrementIfUnder', 'decrementIfPositive'])
    expect(await inner.get('throttle:test:v4_10.1.1.2:7')).toBe('0')
    await inner.close()
  })
})

describe('failure throttle while the store does not answer', () => {
  it('counts in the process: still exactly max wrong attempts, nobody else locked out; the outage\'s attempts count afterwards', async () => {
    const store = new FlakyStore(new MemoryStore({ purgeIntervalMs: 0 }))
    const now = 500 * WINDOW
    const t = createFailureThrottle({ name: 'test', max: 3, maxAddresses: 100, store: () => store, now: () => now })
    expect(await wrong(t, '10.0.0.1')).toBe(true)
    store.down = true
    expect([await right(t, '10.0.0.1'), await wrong(t, '10.0.0.1'), await wrong(t, '10.0.0.1')]).toEqual([true, true, true])
    expect([await wrong(t, '10.0.0.1'), await right(t, '10.0.0.1')]).toEqual([false, false])
    expect(await right(t, '10.0.0.2')).toBe(true)
    store.down = false
    // The store holds one wrong attempt; this process remembers three.
    expect(await right(t, '10.0.0.1')).toBe(false)
    const other = createFailureThrottle({ name: 'test', max: 3, maxAddresses: 100, store: () => store, now: () => now })
    expect(await right(other, '10.0.0.1')).toBe(true)
  })

  it('a store that cannot be opened (store() throws) or is absent counts in the process alone', async () => {
    for (const store of [() => { throw new GatewayError('store_unavailable', 'not opened') }, () => undefined]) {
      const t = createFailureThrottle({ name: 'test', max: 2, maxAddresses: 100, store, now: () => 0 })
      expect([await right(t, '::1'), await wrong(t, '::1'), await wrong(t, '::1:0:0:2'), await wrong(t, '::1'), await right(t, '127.0.0.1')]).toEqual([true, true, true, false, true])
    }
  })

  it('property: over random interleavings of addresses, two processes and outages, each decision is the model\'s (1,500 runs)', async () => {
    const step = fc.record({ proc: fc.constantFrom(0, 1), at: fc.nat({ max: ADDRESSES.length - 1 }), isRight: fc.boolean(), later: fc.constantFrom(0, 0, 1, 1_000, 30_000, WINDOW), flip: fc.constantFrom(false, false, false, true) })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(step, { maxLength: 60 }), async (max, steps) => {
        const shared = new MemoryStore({ purgeIntervalMs: 0 })
        const stores = [new FlakyStore(shared), new FlakyStore(shared)] as const
        let now = 3 * WINDOW
        const procs = stores.map((s) => createFailureThrottle({ name: 'prop', max, maxAddresses: 1_000, store: () => s, now: () => now }))
        // The model: wrong attempts in the store (only those made while it answered) and in each
        // process, per minute; a count decides with the last minute's weighted by what is left of it.
        const inStore = new Map<string, number>()
        const inProc = [new Map<string, number>(), new Map<string, number>()] as const
        const under = (counts: Map<string, number>, group: string): boolean => {
          const [window, elapsed] = [Math.floor(now / WINDOW), now % WINDOW]
          const [current, previous] = [counts.get(`${group}@${window}`) ?? 0, counts.get(`${group}@${window - 1}`) ?? 0]
          return current * WINDOW + previous * (WINDOW - 1 - elapsed) < max * WINDOW
        }
        for (const { proc, at, isRight, later, flip } of steps) {
          now += later
          const s = stores[proc]
          if (flip) s.down = !s.down
          const [address, group] = ADDRESSES[at] as readonly [string, string]
          const id = `${group}@${Math.floor(now / WINDOW)}`
          const local = inProc[proc].get(id) ?? 0
          const expected = under(inProc[proc], group) && (s.down || under(inStore, group))
          const t = procs[proc] as FailureThrottle
          expect(await (isRight ? right(t, address) : wrong(t, address))).toBe(expected)
          if (expected && !isRight) {
            inProc[proc].set(id, local + 1)
            if (!s.down) inStore.set(id, (inStore.get(id) ?? 0) + 1)
          }
        }
        await shared.close()
      }),
      { seed: 0x7a11, numRuns: 1_500 },
    )
  })
})
