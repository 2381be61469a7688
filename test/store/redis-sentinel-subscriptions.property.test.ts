/**
 * The failover watch's Sentinel list over any configured addresses and any `SENTINEL sentinels`
 * replies (known and new addresses, `disconnected` flags, malformed entries, more Sentinels than the
 * bound): each Sentinel is subscribed at most once, only configured ones and those a reply names
 * without `disconnected`, never more than MAX_SENTINELS, and every such one while under the bound.
 * The connections are stand-ins for ioredis's; the real ones are in redis-sentinel-watch-sentinels.test.ts.
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import type { Redis, RedisOptions } from 'ioredis'
import { MAX_SENTINELS, RETRY_MS, SentinelSubscriptions } from '../../src/store/redis-sentinel-subscriptions.js'

interface Entry { ip: string; port: string; flags: string }
const entry: fc.Arbitrary<Entry> = fc.record({
  ip: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', ''),
  port: fc.constantFrom('26379', '26380', '26381', '26382', '26383', '0', 'x'),
  flags: fc.constantFrom('sentinel', 'sentinel', 's_down,sentinel', 'sentinel,disconnected'),
})

/** ioredis's client as the subscriptions see it; a discovery connection answers `reply`. */
class StandIn extends EventEmitter {
  constructor(readonly options: RedisOptions, private readonly reply: () => unknown) {
    super()
  }
  subscribe(): Promise<number> { return Promise.resolve(1) }
  call(): Promise<unknown> { return Promise.resolve(this.reply()) }
  disconnect(): void {}
}

const key = (h: string, p: string | number): string => `${h}:${String(p)}`
const eligible = (e: Entry): boolean => e.ip !== '' && /^[1-9]\d*$/.test(e.port) && !e.flags.includes('disconnected')

describe('the Sentinels the failover watch follows', () => {
  it('each at most once, only configured or named ones, within the bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entry.filter(eligible), { minLength: 1, maxLength: 4, selector: (e) => key(e.ip, e.port) }), fc.array(fc.array(entry, { maxLength: 30 }), { maxLength: 4 }), async (configured, replies) => {
        let current: unknown = []
        const subscribed: string[] = []
        const subs = new SentinelSubscriptions({
          sentinels: configured.map((e) => ({ host: e.ip, port: Number(e.port) })),
          primaryName: 'gw',
          connectTimeoutMs: 1000,
          retryStrategy: () => 100,
          announced: () => undefined,
          connect: (options) => {
            if (options.lazyConnect !== true) subscribed.push(key(options.host ?? '', options.port ?? 0))
            return new StandIn(options, () => current) as unknown as Redis
          },
        })
        try {
          for (const c of configured) subs.add({ host: c.ip, port: Number(c.port) })
          const allowed = new Set(configured.map((e) => key(e.ip, e.port)))
          for (const reply of replies) {
            current = reply.map((e) => ['name', 'x', 'ip', e.ip, 'port', e.port, 'flags', e.flags])
            await subs.discover()
            for (const e of reply.filter(eligible)) allowed.add(key(e.ip, Number(e.port)))
          }
          expect(new Set(subscribed).size).toBe(subscribed.length)
          expect(subscribed.length).toBeLessThanOrEqual(MAX_SENTINELS)
          for (const s of subscribed) expect(allowed.has(s)).toBe(true)
          if (allowed.size <= MAX_SENTINELS) expect(new Set(subscribed)).toEqual(allowed)
          expect(subs.problem()).toBeUndefined()
        } finally {
          subs.stop()
        }
      }),
      { seed: 35, numRuns: 300 },
    )
  })
})

/** A subscriber connection whose next SUBSCRIBE is taken or refused as the test says, and whose status it sets. */
class Scripted extends EventEmitter {
  status = 'connecting'
  next: 'take' | 'refuse' = 'take'
  constructor(readonly options: RedisOptions) {
    super()
  }
  subscribe(): Promise<number> {
    if (this.next === 'take') return Promise.resolve(1)
    const e = new Error('NOPERM no channel')
    e.name = 'ReplyError'
    return Promise.reject(e)
  }
  disconnect(): void {}
}

type WatchEvent = { sentinel: number; kind: 'taken' | 'refused' | 'password_refused' | 'down' }

describe('the failover watch counts (store_failover_watch_sentinels)', () => {
  it('following: subscription taken and connection up now; refused: refusing now; over any sequence of answers and outages', async () => {
    const event: fc.Arbitrary<WatchEvent> = fc.record({ sentinel: fc.nat({ max: 4 }), kind: fc.constantFrom('taken', 'refused', 'password_refused', 'down') })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(event, { maxLength: 40 }), async (n, events) => {
        const conns: Scripted[] = []
        const subs = new SentinelSubscriptions({
          sentinels: [], primaryName: 'gw', connectTimeoutMs: 1000, retryStrategy: () => 100, announced: () => undefined,
          connect: (options) => {
            const c = new Scripted(options)
            conns.push(c)
            return c as unknown as Redis
          },
        })
        // The model: per Sentinel, up now, last answer taken, refusing now.
        const model = Array.from({ length: n }, () => ({ up: false, taken: false, refused: false }))
        try {
          for (let i = 0; i < n; i++) subs.add({ host: '10.0.0.1', port: 26379 + i })
          for (const e of events.filter((x) => x.sentinel < n)) {
            const c = conns[e.sentinel] as Scripted
            const m = model[e.sentinel] as { up: boolean; taken: boolean; refused: boolean }
            if (e.kind === 'down') {
              c.status = 'reconnecting'
              m.up = false
            } else if (e.kind === 'password_refused') {
              const err = new Error('WRONGPASS invalid username-password pair')
              err.name = 'ReplyError'
              c.status = 'reconnecting'
              c.emit('error', err)
              Object.assign(m, { up: false, taken: false, refused: true })
            } else {
              c.status = 'ready'
              c.next = e.kind === 'taken' ? 'take' : 'refuse'
              c.emit('ready')
              await new Promise((r) => setImmediate(r))
              Object.assign(m, { up: true, taken: e.kind === 'taken', refused: e.kind === 'refused' })
            }
            expect(subs.counts()).toEqual({ following: model.filter((x) => x.up && x.taken).length, refused: model.filter((x) => x.refused).length })
          }
        } finally {
          subs.stop()
        }
      }),
      { seed: 35, numRuns: 200 },
    )
  })
})

describe('a discovery that missed part of the set', () => {
  /** A watch over 10.0.0.1 whose discovery connections answer `reply()`; what it subscribed and how many discoveries it made. */
  function watch(reply: () => unknown): { subs: SentinelSubscriptions; subscribed: string[]; discoveries: () => number } {
    const subscribed: string[] = []
    let discoveries = 0
    const subs = new SentinelSubscriptions({
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      primaryName: 'gw',
      connectTimeoutMs: 1000,
      retryStrategy: () => 100,
      announced: () => undefined,
      connect: (options) => {
        if (options.lazyConnect === true) discoveries++
        else subscribed.push(key(options.host ?? '', options.port ?? 0))
        return new StandIn(options, reply) as unknown as Redis
      },
    })
    subs.add({ host: '10.0.0.1', port: 26379 })
    return { subs, subscribed, discoveries: () => discoveries }
  }
  const sentinel = (ip: string, flags: string): string[] => ['name', ip, 'ip', ip, 'port', '26379', 'flags', flags]
  /** A discovery that saw the whole set is not made again: five more periods, no new discovery connection. */
  async function expectNoMoreDiscoveries(discoveries: () => number): Promise<void> {
    const made = discoveries()
    await vi.advanceTimersByTimeAsync(RETRY_MS * 5)
    expect(discoveries()).toBe(made)
  }

  it('is made again every RETRY_MS until no Sentinel it is told of is disconnected, then no more', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let reply: unknown = [sentinel('10.0.0.2', 'sentinel,disconnected'), sentinel('10.0.0.3', 'sentinel')]
    const { subs, subscribed, discoveries } = watch(() => reply)
    try {
      await subs.discover()
      expect(subscribed).toEqual(['10.0.0.1:26379', '10.0.0.3:26379'])
      await vi.advanceTimersByTimeAsync(RETRY_MS)
      expect(discoveries()).toBe(2)
      expect(subscribed).toEqual(['10.0.0.1:26379', '10.0.0.3:26379'])
      // The Sentinels have met: the next discovery (no new store connection) follows it.
      reply = [sentinel('10.0.0.2', 'sentinel'), sentinel('10.0.0.3', 'sentinel')]
      await vi.advanceTimersByTimeAsync(RETRY_MS)
      expect(subscribed).toEqual(['10.0.0.1:26379', '10.0.0.3:26379', '10.0.0.2:26379'])
      await expectNoMoreDiscoveries(discoveries)
    } finally {
      subs.stop()
      vi.useRealTimers()
    }
  })

  it('is made again when no Sentinel answered it, and a complete one is not', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let answers = false
    const { subs, subscribed, discoveries } = watch(() => {
      if (!answers) throw new Error('ECONNREFUSED')
      return [sentinel('10.0.0.2', 'sentinel')]
    })
    try {
      await subs.discover()
      expect(subscribed).toEqual(['10.0.0.1:26379'])
      answers = true
      await vi.advanceTimersByTimeAsync(RETRY_MS)
      expect(subscribed).toEqual(['10.0.0.1:26379', '10.0.0.2:26379'])
      await expectNoMoreDiscoveries(discoveries)
    } finally {
      subs.stop()
      vi.useRealTimers()
    }
  })
})
