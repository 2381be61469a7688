import fc from 'fast-check'
import { afterAll, afterEach, beforeEach, describe, it } from 'vitest'
import type { Store } from '../../src/store/index.js'
import { STORE_BACKENDS, stopStoreServers, type StoreBackend, type StoreHarness } from '../support/store-backends.js'
import { eventually } from '../support/eventually.js'

// The Redis Cluster and the TLS-only Redis are started by the first test that needs them.
afterAll(stopStoreServers, 30_000)

// TTLs long enough that a loaded machine reads a value before it expires; expiry is then
// waited for with a deadline, never assumed after a fixed sleep.
const SHORT_TTL_MS = 1500

// Keys of one group (throttle:<counter>:<source>), as the failure throttle's are: one slot on a Cluster.
const tkey = (w: number): string => `throttle:t:v4_10.0.0.1:${w}`

// One contract, every backend: a caller must not be able to tell SQLite, Redis and memory apart.
// The backends run side by side (each waits out real TTLs); one backend's tests run one after
// another (they share its `h` and `store`), each on a fresh store.
describe.concurrent.each(STORE_BACKENDS)('Store contract: $name', (backend) => {
  describe.sequential('one test at a time', () => contract(backend))
})

function contract(backend: StoreBackend): void {
  let h: StoreHarness
  let store: Store
  beforeEach(async () => {
    h = await backend.setup()
    store = h.store
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('get/put/replace/delete', async ({ expect }) => {
    expect(await store.get('a')).toBeUndefined()
    await store.put('a', 'one')
    expect(await store.get('a')).toBe('one')
    await store.put('a', 'two')
    expect(await store.get('a')).toBe('two')
    expect(await store.delete('a')).toBe(true)
    expect(await store.delete('a')).toBe(false)
    expect(await store.get('a')).toBeUndefined()
  })

  it('keeps values byte-exact (unicode, empty, large)', async ({ expect }) => {
    const values = ['', 'ü€😀\u0000tail', 'x'.repeat(200_000), '{"json":true}']
    for (const [i, v] of values.entries()) await store.put(`v:${i}`, v)
    for (const [i, v] of values.entries()) expect(await store.get(`v:${i}`)).toBe(v)
  })

  it('expires values after their TTL; a put without TTL clears an old TTL', async ({ expect }) => {
    await store.put('ttl:short', 'x', SHORT_TTL_MS)
    await store.put('ttl:long', 'y', 60_000)
    await store.put('ttl:cleared', 'z', SHORT_TTL_MS)
    await store.put('ttl:cleared', 'z2')
    expect(await store.get('ttl:short')).toBe('x')
    expect(await store.keys('ttl:')).toEqual(['ttl:cleared', 'ttl:long', 'ttl:short'])
    await eventually(async () => (await store.get('ttl:short')) === undefined, 20_000, 'ttl:short to expire')
    expect(await store.get('ttl:long')).toBe('y')
    expect(await store.get('ttl:cleared')).toBe('z2')
    expect(await store.keys('ttl:')).toEqual(['ttl:cleared', 'ttl:long'])
    expect(await store.delete('ttl:short')).toBe(false)
    expect(await store.take('ttl:short')).toBeUndefined()
  })

  it('refuses non-positive or non-finite TTLs as misuse', async ({ expect }) => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(store.put('bad', 'x', bad)).rejects.toThrow(TypeError)
      await expect(store.putIfAbsent('bad', 'x', bad)).rejects.toThrow(/ttlMs must be a positive/)
    }
    expect(await store.get('bad')).toBeUndefined()
  })

  it('putIfAbsent writes once, again after expiry or delete', async ({ expect }) => {
    expect(await store.putIfAbsent('p', 'first', SHORT_TTL_MS)).toBe(true)
    expect(await store.putIfAbsent('p', 'second')).toBe(false)
    expect(await store.get('p')).toBe('first')
    await eventually(async () => (await store.get('p')) === undefined, 20_000, '"first" to expire')
    expect(await store.putIfAbsent('p', 'third')).toBe(true)
    expect(await store.get('p')).toBe('third')
    expect(await store.delete('p')).toBe(true)
    expect(await store.putIfAbsent('p', 'fourth', 60_000)).toBe(true)
    expect(await store.get('p')).toBe('fourth')
  })

  it('putIfAbsent: 50 concurrent writers (split across instances), exactly one wins', async ({ expect }) => {
    const peer = h.openPeer() ?? store
    for (const key of ['jti:fresh', 'jti:expired']) {
      if (key === 'jti:expired') {
        await store.put(key, 'old', 50)
        await eventually(async () => (await store.get(key)) === undefined, 20_000, 'the old value to expire')
      }
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).putIfAbsent(key, `w${i}`, 60_000)),
      )
      const winners = results.flatMap((won, i) => (won ? [i] : []))
      expect(winners).toHaveLength(1)
      expect(await peer.get(key)).toBe(`w${winners[0]}`)
    }
  })

  it('increment counts from 0, by any safe integer (negative too), also from a counter below 0, and reads back as text', async ({ expect }) => {
    expect(await store.increment('n:a', 1, 60_000)).toBe(1)
    expect(await store.increment('n:a', 1, 60_000)).toBe(2)
    expect(await store.increment('n:a', -1, 60_000)).toBe(1)
    expect(await store.increment('n:a', -3)).toBe(-2)
    expect(await store.get('n:a')).toBe('-2')
    // A counter below 0 counts from 0 (older versions' take-backs left -1, which was a credit).
    expect(await store.increment('n:a', 0)).toBe(0)
    expect(await store.increment('n:a', -2)).toBe(-2)
    expect(await store.increment('n:a', 3)).toBe(3)
    expect(await store.increment('n:neg', -(2 ** 52))).toBe(-(2 ** 52))
    expect(await store.increment('n:neg', 2 ** 52)).toBe(2 ** 52)
    expect(await store.increment('n:b', -1, 60_000)).toBe(-1)
    expect(await store.increment('n:big', 2 ** 40)).toBe(2 ** 40)
    expect(await store.keys('n:')).toEqual(['n:a', 'n:b', 'n:big', 'n:neg'])
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) await expect(store.increment('n:bad', bad)).rejects.toThrow(TypeError)
    for (const bad of [0, -1, Number.NaN]) await expect(store.increment('n:bad', 1, bad)).rejects.toThrow(/ttlMs must be a positive/)
    expect(await store.get('n:bad')).toBeUndefined()
  })

  it('increment: 50 concurrent increments (split across instances) each get a distinct value, none lost', async ({ expect }) => {
    const peer = h.openPeer() ?? store
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).increment('n:race', 1, 60_000)))
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const down = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? store : peer).increment('n:race', -1, 60_000)))
    expect([...down].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(await peer.get('n:race')).toBe('0')
  })

  it('increment sets the TTL only when it creates the key; after expiry it starts again from 0 with a new TTL', async ({ expect }) => {
    await store.increment('n:forever', 1)
    expect(await store.increment('n:forever', 1, 50)).toBe(2)
    expect(await store.increment('n:window', 1, SHORT_TTL_MS)).toBe(1)
    // Later increments with a longer TTL do not extend the window.
    expect(await store.increment('n:window', 1, 60_000)).toBe(2)
    await eventually(async () => (await store.get('n:window')) === undefined, 20_000, 'the counter to expire')
    // A counter created without a TTL got none from the increment that named one.
    expect(await store.get('n:forever')).toBe('2')
    expect(await store.increment('n:window', 5, SHORT_TTL_MS)).toBe(5)
    expect(await store.get('n:window')).toBe('5')
    await eventually(async () => (await store.get('n:window')) === undefined, 20_000, 'the new counter to expire')
    expect(await store.keys('n:')).toEqual(['n:forever'])
  })

  it('decrementIfPositive takes one from a live counter above 0 only: never below 0, never a new key; 50 at once take exactly what there is', async ({ expect }) => {
    expect(await store.decrementIfPositive('d:absent')).toBeUndefined()
    expect(await store.keys('d:')).toEqual([])
    await store.increment('d:a', 2, 60_000)
    expect([await store.decrementIfPositive('d:a'), await store.decrementIfPositive('d:a'), await store.decrementIfPositive('d:a')]).toEqual([1, 0, undefined])
    expect(await store.get('d:a')).toBe('0')
    await store.increment('d:negative', -1, 60_000)
    expect(await store.decrementIfPositive('d:negative')).toBeUndefined()
    expect(await store.get('d:negative')).toBe('-1')
    const peer = h.openPeer() ?? store
    await store.increment('d:race', 20, 60_000)
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).decrementIfPositive('d:race')))
    expect(got.filter((v) => v !== undefined).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(await peer.get('d:race')).toBe('0')
  })

  it('decrementIfPositive keeps the TTL, and once the counter expired changes nothing (no counter left at -1)', async ({ expect }) => {
    await store.increment('d:window', 2, SHORT_TTL_MS)
    expect(await store.decrementIfPositive('d:window')).toBe(1)
    await eventually(async () => (await store.get('d:window')) === undefined, 20_000, 'the counter to expire')
    expect(await store.decrementIfPositive('d:window')).toBeUndefined()
    expect(await store.keys('d:')).toEqual([])
    expect(await store.increment('d:window', 1, 60_000)).toBe(1)
  })

  it('replaceIfUnchanged writes or deletes only over the value it names, keeping the expiry unless given one', async ({ expect }) => {
    expect(await store.replaceIfUnchanged('r:absent', 'x', 'y')).toBe(false)
    expect(await store.get('r:absent')).toBeUndefined()
    await store.put('r:a', 'one')
    expect(await store.replaceIfUnchanged('r:a', 'other', 'two')).toBe(false)
    expect(await store.replaceIfUnchanged('r:a', 'one', 'two')).toBe(true)
    expect(await store.get('r:a')).toBe('two')
    expect(await store.replaceIfUnchanged('r:a', 'one', undefined)).toBe(false)
    expect(await store.replaceIfUnchanged('r:a', 'two', undefined)).toBe(true)
    expect(await store.get('r:a')).toBeUndefined()
    // The expiry stays (a re-sealed record never outlives the original) or is the one given; none stays none.
    await store.put('r:short', 's', SHORT_TTL_MS)
    await store.put('r:forever', 'f')
    await store.put('r:shortened', 'g')
    expect(await store.replaceIfUnchanged('r:short', 's', 's2')).toBe(true)
    expect(await store.replaceIfUnchanged('r:forever', 'f', 'f2')).toBe(true)
    expect(await store.replaceIfUnchanged('r:shortened', 'g', 'g2', SHORT_TTL_MS)).toBe(true)
    expect([await store.get('r:short'), await store.get('r:shortened')]).toEqual(['s2', 'g2'])
    await eventually(async () => (await store.keys('r:')).join() === 'r:forever', 20_000, 'r:short and r:shortened to expire')
    expect(await store.get('r:forever')).toBe('f2')
    expect(await store.replaceIfUnchanged('r:short', 's2', 's3')).toBe(false)
    expect(await store.keys('r:')).toEqual(['r:forever'])
    await expect(store.replaceIfUnchanged('r:forever', 'f2', 'x', 0)).rejects.toThrow(TypeError)
  })

  it('replaceIfUnchanged: 50 at once from one value (split across instances), exactly one wins', async ({ expect }) => {
    const peer = h.openPeer() ?? store
    await store.put('r:race', 'read', 60_000)
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).replaceIfUnchanged('r:race', 'read', `w${i}`)))
    const winners = results.flatMap((won, i) => (won ? [i] : []))
    expect(winners).toHaveLength(1)
    expect(await peer.get('r:race')).toBe(`w${winners[0]}`)
  })

  it('replaceIfUnchanged never undoes a write or a delete it did not read (seeded property)', async ({ expect }) => {
    const peer = h.openPeer() ?? store
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), value: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('delete' as const) }),
      fc.record({ kind: fc.constant('replace' as const), expected: fc.constantFrom('a', 'b', 'c'), value: fc.option(fc.constantFrom('a', 'b', 'd'), { nil: undefined }) }),
    )
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, fc.boolean()), { maxLength: 8 }), async (ops) => {
        const key = `r:p:${run++}`
        let model: string | undefined
        for (const [o, onPeer] of ops) {
          const s = onPeer ? peer : store
          if (o.kind === 'put') {
            await s.put(key, o.value, 60_000)
            model = o.value
          } else if (o.kind === 'delete') {
            await s.delete(key)
            model = undefined
          } else {
            const applies = model === o.expected
            expect(await s.replaceIfUnchanged(key, o.expected, o.value)).toBe(applies)
            if (applies) model = o.value
          }
          expect(await (onPeer ? store : peer).get(key)).toBe(model)
        }
      }),
      { seed: 0x5ea1, numRuns: 25 },
    )
  })

  it('take is one-shot, also under 50 concurrent takers', async ({ expect }) => {
    await store.put('t', 'secret')
    expect(await store.take('t')).toBe('secret')
    expect(await store.take('t')).toBeUndefined()
    expect(await store.get('t')).toBeUndefined()

    const peer = h.openPeer() ?? store
    await store.put('t2', 'once', 60_000)
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).take('t2')))
    expect(got.filter((v) => v !== undefined)).toEqual(['once'])
  })

  it('keys(prefix) lists live keys with exactly that prefix, glob and LIKE characters literal', async ({ expect }) => {
    const keys = ['u:1:a', 'u:1:b', 'u:10:a', 'u:2:a', 'u:*[x]?%_:a', 'u:*[x]?%_:b', 'v:1', 'u:1€:c']
    for (const k of keys) await store.put(k, 'x')
    expect((await store.keys('u:1:')).sort()).toEqual(['u:1:a', 'u:1:b'])
    expect((await store.keys('u:1')).sort()).toEqual(['u:1:a', 'u:1:b', 'u:10:a', 'u:1€:c'].sort())
    expect((await store.keys('u:*[x]?%_:')).sort()).toEqual(['u:*[x]?%_:a', 'u:*[x]?%_:b'])
    expect((await store.keys('')).sort()).toEqual([...keys].sort())
    expect(await store.keys('none:')).toEqual([])
  })

  it('ping resolves; use after close rejects', async ({ expect }) => {
    await expect(store.ping()).resolves.toBeUndefined()
    await store.close()
    await expect(store.get('a')).rejects.toThrow(/after close/)
    await expect(store.put('a', 'b')).rejects.toThrow(/after close/)
    await expect(store.increment('a', 1)).rejects.toThrow(/after close/)
    await expect(store.decrementIfPositive('a')).rejects.toThrow(/after close/)
    await expect(store.incrementIfUnder([{ key: 'a', weight: 1 }], 1, 60_000)).rejects.toThrow(/after close/)
    await expect(store.replaceIfUnchanged('a', 'b', 'c')).rejects.toThrow(/after close/)
  })

  it.skipIf(backend.name === 'memory')('a second instance sees writes at once (second process / replica)', async ({ expect }) => {
    const peer = h.openPeer()
    if (peer === undefined) throw new Error('unreachable')
    await store.put('shared', 'v1', 60_000)
    expect(await peer.get('shared')).toBe('v1')
    expect(await peer.putIfAbsent('shared', 'v2')).toBe(false)
    expect(await peer.take('shared')).toBe('v1')
    expect(await store.get('shared')).toBeUndefined()
  })

  it.skipIf(backend.name === 'memory')('data survives close and reopen', async ({ expect }) => {
    await store.put('keep', 'forever')
    await store.put('keep:ttl', 'a while', 60_000)
    const reopened = await h.reopen()
    if (reopened === undefined) throw new Error('unreachable')
    expect(await reopened.get('keep')).toBe('forever')
    expect(await reopened.get('keep:ttl')).toBe('a while')
  })

  // incrementIfUnder, the failure throttle's one-round-trip take-and-check: atomic, and nothing written when it refuses.
  it('incrementIfUnder weighs the counts as they were, adds to the first while under the bound, and writes nothing when it refuses', async ({ expect }) => {
    const counters = [{ key: tkey(1), weight: 3 }, { key: tkey(0), weight: 2 }, { key: tkey(2), weight: 0 }]
    await store.put(tkey(0), '2', 60_000)
    await store.put(tkey(2), '50', 60_000)
    // 3 × c + 2 × 2 + 0 × 50 < 11: c = 0, 1, 2 go in; at 3 (13) it is refused.
    const got = []
    for (let i = 0; i < 4; i++) got.push(await store.incrementIfUnder(counters, 11, 60_000))
    expect(got).toEqual([0, 1, 2].map((c) => ({ added: true, counts: [c, 2, 50] })).concat({ added: false, counts: [3, 2, 50] }))
    expect(await store.get(tkey(1))).toBe('3')
    expect([await store.get(tkey(0)), await store.get(tkey(2))]).toEqual(['2', '50'])
    expect(await store.incrementIfUnder([{ key: tkey(5), weight: 1 }], 0, 60_000)).toEqual({ added: false, counts: [0] })
    expect(await store.keys(tkey(5))).toEqual([])
  })

  it('incrementIfUnder reads absent, below 0 and not whole counters as 0; a counter below 0 counts from 0 and keeps its expiry; the TTL only on creation', async ({ expect }) => {
    await store.put(tkey(0), '-1', 60_000)
    await store.put(tkey(2), 'x', 60_000)
    const counters = [{ key: tkey(1), weight: 1 }, { key: tkey(0), weight: 1 }, { key: tkey(2), weight: 1 }]
    // 5 s: long enough that the two calls below still see the counter on a stalled machine (1.5 s once was not), short enough to wait out.
    expect(await store.incrementIfUnder(counters, 1, 5_000)).toEqual({ added: true, counts: [0, 0, 0] })
    expect(await store.incrementIfUnder([{ key: tkey(0), weight: 1 }], 1, 1)).toEqual({ added: true, counts: [0] })
    await new Promise((r) => setTimeout(r, 5))
    expect(await store.get(tkey(0))).toBe('1')
    // Added to again with a longer TTL: the expiry it was created with stands.
    expect(await store.incrementIfUnder(counters, 5, 60_000)).toEqual({ added: true, counts: [1, 1, 0] })
    await eventually(async () => (await store.get(tkey(1))) === undefined, 20_000, 'the counter to expire')
    expect(await store.incrementIfUnder(counters, 5, 60_000)).toEqual({ added: true, counts: [0, 1, 0] })
  })

  it('incrementIfUnder is atomic: 50 at once from two instances add exactly up to the bound', async ({ expect }) => {
    const peer = h.openPeer() ?? store
    const counters = [{ key: tkey(1), weight: 2 }, { key: tkey(0), weight: 1 }]
    await store.put(tkey(0), '4', 60_000)
    // 2 × c + 4 < 44: exactly 20 go in.
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).incrementIfUnder(counters, 44, 60_000)))
    expect(got.filter((g) => g.added)).toHaveLength(20)
    expect(got.filter((g) => g.added).map((g) => g.counts[0]).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(await store.get(tkey(1))).toBe('20')
  })

  it('incrementIfUnder refuses misuse as a TypeError: no counters, weights not whole or below 0, a bound not whole, a TTL not positive', async ({ expect }) => {
    await expect(store.incrementIfUnder([], 1, 60_000)).rejects.toThrow(TypeError)
    for (const weight of [-1, 1.5, Number.NaN]) await expect(store.incrementIfUnder([{ key: tkey(1), weight }], 1, 60_000)).rejects.toThrow(TypeError)
    for (const bound of [1.5, Number.POSITIVE_INFINITY]) await expect(store.incrementIfUnder([{ key: tkey(1), weight: 1 }], bound, 60_000)).rejects.toThrow(TypeError)
    await expect(store.incrementIfUnder([{ key: tkey(1), weight: 1 }], 1, 0)).rejects.toThrow(/ttlMs must be a positive/)
    expect(await store.keys('throttle:')).toEqual([])
  })

  it('property: incrementIfUnder, over a sequence of take-and-checks and puts answers as the model does (40 runs)', async ({ expect }) => {
    const value = fc.oneof(fc.integer({ min: -3, max: 6 }).map(String), fc.constantFrom('x', '1.5', ''))
    const op = fc.oneof(
      fc.record({ put: fc.nat({ max: 2 }), value }),
      fc.record({ weights: fc.tuple(fc.nat({ max: 4 }), fc.nat({ max: 4 }), fc.nat({ max: 4 })), bound: fc.integer({ min: -1, max: 30 }) }),
    )
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        run += 1
        const k = (i: number): string => `throttle:p${run}:v4_10.0.0.1:${i}`
        const model = [0, 0, 0]
        for (const o of ops) {
          if ('put' in o) {
            await store.put(k(o.put), o.value, 60_000)
            const n = Number(o.value)
            model[o.put] = o.value !== '' && Number.isSafeInteger(n) && n > 0 ? n : 0
            continue
          }
          const counters = o.weights.map((weight, i) => ({ key: k(i), weight }))
          const added = model.reduce((sum, n, i) => sum + n * (o.weights[i] as number), 0) < o.bound
          // A counter not a whole number cannot be added to (Redis refuses it): not asked of the store.
          const first = await store.get(k(0))
          if (added && first !== undefined && !/^-?\d+$/.test(first)) continue
          expect(await store.incrementIfUnder(counters, o.bound, 60_000)).toEqual({ added, counts: [...model] })
          if (added) model[0] = (model[0] as number) + 1
        }
      }),
      { seed: 0x7a4e, numRuns: 40 },
    )
  })
}
