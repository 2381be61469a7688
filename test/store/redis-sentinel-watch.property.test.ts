/**
 * The Sentinel watch's decisions over any sequence of `+switch-master` announcements (from any
 * Sentinel, for this primary or another) and Sentinel lookups (naming the old primary, the new one
 * or a third server): the store is never left on the primary an announcement switched away from
 * (unless the Sentinels keep naming it past the retry budget: a switch back not heard), never
 * pulled off any other server, never disconnected while it connects (ioredis would end it), and
 * never loops. The client and Sentinel connections here are stand-ins for ioredis's (same events,
 * status and `disconnect`); the real ones are in redis-sentinel-switch.test.ts.
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Redis } from 'ioredis'
import { SentinelWatch, STALE_RETRIES } from '../../src/store/redis-sentinel-watch.js'

type Step =
  | { kind: 'announce'; sentinel: number; name: string; from: number; to: number }
  | { kind: 'lookup'; server: number }
  | { kind: 'drop' }

const PORTS = [7001, 7002, 7003]
const address = (i: number): string => `127.0.0.1:${PORTS[i] ?? 0}`
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('announce' as const), sentinel: fc.nat(2), name: fc.constantFrom('gw', 'gw', 'other'), from: fc.nat(2), to: fc.nat(2) }).filter((s) => s.from !== s.to),
  fc.record({ kind: fc.constant('lookup' as const), server: fc.nat(2) }),
  fc.constant({ kind: 'drop' as const }),
)

/** ioredis's client as the watch sees it: a status, events, `disconnect(true)` starting a reconnect. */
class StandInClient extends EventEmitter {
  status = 'wait'
  disconnects: { status: string; on: string | undefined }[] = []
  on_: string | undefined
  disconnect(reconnect: boolean): void {
    expect(reconnect).toBe(true)
    this.disconnects.push({ status: this.status, on: this.on_ })
    this.status = 'reconnecting'
    this.on_ = undefined
  }
}

function run(steps: Step[]): void {
  const client = new StandInClient()
  const subscribers: EventEmitter[] = []
  const watch = new SentinelWatch({ sentinels: [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: 26000 + i })), primaryName: 'gw', connectTimeoutMs: 1000, retryStrategy: () => 100 })
  watch.follow(client as unknown as Redis, () => {
    const s = Object.assign(new EventEmitter(), { subscribe: () => Promise.resolve(1), disconnect: () => undefined, options: {} })
    subscribers.push(s)
    return s as unknown as Redis
  })
  // The model: the last announcement for "gw" and the disconnects since.
  let last: { from: string; to: string; disconnects: number } | undefined
  for (const s of steps) {
    const before = client.disconnects.length
    if (s.kind === 'announce') {
      subscribers[s.sentinel]?.emit('message', '+switch-master', `${s.name} 127.0.0.1 ${PORTS[s.from] ?? 0} 127.0.0.1 ${PORTS[s.to] ?? 0}`)
      if (s.name === 'gw' && last?.to !== address(s.to)) last = { from: address(s.from), to: address(s.to), disconnects: 0 }
    } else if (s.kind === 'lookup') {
      // A lookup names Sentinels (their list) and then the primary; the connection is made to the primary.
      watch.natMap('127.0.0.1:26001')
      watch.natMap(address(s.server))
      client.status = 'connect'
      client.on_ = address(s.server)
      client.emit('connect')
      if (client.status === 'connect') client.status = 'ready'
    } else {
      client.status = 'reconnecting'
      client.on_ = undefined
    }
    const made = client.disconnects.slice(before)
    for (const d of made) {
      expect(['connect', 'ready']).toContain(d.status)
      expect(d.on).toBe(last?.from)
    }
    if (last !== undefined) {
      last.disconnects += made.length
      expect(last.disconnects).toBeLessThanOrEqual(STALE_RETRIES)
      if (client.on_ === last.from) expect(last.disconnects).toBe(STALE_RETRIES)
    } else {
      expect(made).toEqual([])
    }
  }
}

describe('SentinelWatch', () => {
  it('leaves the switched-from primary, touches nothing else, never while connecting, within a bounded number of tries', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 60 }), (steps) => run(steps)), { seed: 0x5e17, numRuns: 500 })
  })
})
