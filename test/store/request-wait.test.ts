/**
 * A Redis write its replicas did not confirm (WAIT short of `replicasToAcknowledge`) fails
 * store_unavailable but is not remembered for the request as a store that does not answer is: the
 * primary took it, and the request's later writes must reach the store too (the admin throttle's
 * take-back after an increment: skipping it left the store counting attempts it had given back,
 * test/oauth1-dance/admin-throttle-property.test.ts). They are sent without WAIT: one request waits
 * acknowledgeTimeout once, not once per write, and each later write fails as unconfirmed all the
 * same. Outside a request every write waits for its own acknowledgement. A real redis-server with
 * no replica, behind a relay that counts the commands sent.
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { asUnwaitedWrite, MemoryStore, openRedisStore, withOneStoreWait, type RedisStore, type Store } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import type { Peer } from '../support/peers.js'
import { startRedisCommandRelay, type RedisCommandRelay } from '../support/redis-command-relay.js'
import { startRedisServer } from '../support/redis-servers.js'

const PREFIX = `request-wait-${randomBytes(4).toString('hex')}:`
let redis: Peer
let relay: RedisCommandRelay
let store: RedisStore

beforeAll(async () => {
  redis = await startRedisServer()
  relay = await startRedisCommandRelay(redis.port)
  // One replica must confirm each write; the server has none, so every WAIT answers 0.
  store = openRedisStore({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix: PREFIX, commandTimeoutMs: 3000, connectTimeoutMs: 1000, acknowledge: { replicas: 1, timeoutMs: 100 } })
  await eventually(() => store.get('warm-up').then(() => true), 20_000, 'the store connected')
})

afterAll(async () => {
  await store?.close()
  await relay?.close()
  await redis?.stop()
})

const failureOf = (p: Promise<unknown>): Promise<{ reason?: string; message?: string } | undefined> =>
  p.then(() => undefined, (e: unknown) => e as { reason?: string; message?: string })

/** The WAITs `run` made the store send. */
async function waitsOf(run: () => Promise<void>): Promise<number> {
  const before = relay.count('wait')
  await run()
  return relay.count('wait') - before
}

describe('a Redis write no replica confirmed, within one request', () => {
  it('a request of three writes waits once: the first fails unconfirmed, the later two are sent without WAIT, fail unconfirmed too, and land', async () => {
    const failures: ({ reason?: string; message?: string } | undefined)[] = []
    const waits = await waitsOf(() =>
      withOneStoreWait(async () => {
        for (const write of [() => store.put('three:k', 'v'), () => store.increment('three:n', 1), () => store.increment('three:n', 1)]) failures.push(await failureOf(write()))
      }),
    )
    expect(waits).toBe(1)
    expect(failures.map((f) => f?.reason)).toEqual(['store_unavailable', 'store_unavailable', 'store_unavailable'])
    expect(failures[0]?.message).toMatch(/: put reached 0 of 1 replicas within 100 ms; not acknowledged$/)
    for (const later of failures.slice(1)) expect(later?.message).toMatch(/: increment sent without waiting for replicas \(earlier in this request, put reached 0 of 1 replicas within 100 ms\); not acknowledged$/)
    expect([await store.get('three:k'), await store.get('three:n')]).toEqual(['v', '2'])
  })

  it('outside a request every write waits for its own acknowledgement; each request waits once of its own', async () => {
    const three = async (tag: string): Promise<void> => {
      for (const write of [() => store.put(`${tag}:k`, 'v'), () => store.increment(`${tag}:n`, 1), () => store.decrementIfPositive(`${tag}:n`)]) {
        expect((await failureOf(write()))?.message).toMatch(/; not acknowledged$/)
      }
    }
    expect(await waitsOf(() => three('outside'))).toBe(3)
    expect(await waitsOf(() => withOneStoreWait(three, 'first'))).toBe(1)
    expect(await waitsOf(() => withOneStoreWait(three, 'second'))).toBe(1)
  })

  it('a take-and-check\'s answer stands unconfirmed (one WAIT); a give-back as an unwaited write of its own sends no WAIT (within a request, where a write waits once) and lands', async () => {
    const counters = [{ key: 'taken:n', weight: 1 }]
    const waits = await waitsOf(async () => expect(await store.incrementIfUnder(counters, 5, 60_000)).toEqual({ added: true, counts: [0] }))
    expect(waits).toBe(1)
    const unwaited = await waitsOf(() =>
      withOneStoreWait(async () => {
        const failure = await failureOf(asUnwaitedWrite('a give-back of a take the store did not answer', () => store.decrementIfPositive('taken:n')))
        expect(failure?.message).toMatch(/: decrement sent without waiting for replicas \(earlier in this request, a give-back of a take the store did not answer\); not acknowledged$/)
      }),
    )
    expect(unwaited).toBe(0)
    expect(await store.get('taken:n')).toBe('0')
  })

  // Counters and values on keys of their own: Redis refuses to count a value that is not a number, the model counts it from 0.
  type Op = { kind: 'put' | 'putIfAbsent'; key: string; value: string } | { kind: 'take'; key: string } | { kind: 'increment' | 'decrementIfPositive'; key: string } | { kind: 'delete' | 'get'; key: string }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constantFrom('put' as const, 'putIfAbsent' as const), key: fc.constantFrom('a', 'b'), value: fc.stringMatching(/^[a-z0-9]{1,8}$/) }),
    fc.record({ kind: fc.constant('take' as const), key: fc.constantFrom('a', 'b') }),
    fc.record({ kind: fc.constantFrom('increment' as const, 'decrementIfPositive' as const), key: fc.constantFrom('n', 'm') }),
    fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const), key: fc.constantFrom('a', 'b', 'n', 'm') }),
  )
  const apply = (s: Store, o: Op): Promise<unknown> =>
    o.kind === 'put' ? s.put(o.key, o.value) : o.kind === 'putIfAbsent' ? s.putIfAbsent(o.key, o.value) : o.kind === 'increment' ? s.increment(o.key, 1) : s[o.kind](o.key)

  it('property: one WAIT per request whatever its writes, every write fails store_unavailable and lands in order (a store in memory is the model; 25 seeded runs)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const at = `prop${run++}:`
        const model = new MemoryStore({ purgeIntervalMs: 0 })
        const writes = ops.filter((o) => o.kind !== 'get').length
        const waits = await waitsOf(() =>
          withOneStoreWait(async () => {
            for (const o of ops) {
              const expected = await apply(model, o)
              if (o.kind === 'get') expect(await store.get(at + o.key)).toEqual(expected)
              else expect((await failureOf(apply(store, { ...o, key: at + o.key })))?.reason).toBe('store_unavailable')
            }
          }),
        )
        expect(waits).toBe(writes > 0 ? 1 : 0)
        for (const key of ['a', 'b', 'n', 'm']) expect(await store.get(at + key)).toEqual(await model.get(key))
      }),
      { seed: Number(process.env.SEED ?? 0x3a17), numRuns: Number(process.env.RUNS ?? 25) },
    )
  }, 120_000)
})
