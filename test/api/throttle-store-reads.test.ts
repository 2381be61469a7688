/**
 * The failure throttle's store reads, each on real servers of the test's own:
 * - on a Redis Cluster, the settled failures (`-failed`) hash to another node and are read beside
 *   the take-and-check: a failure of that read (here NOPERM: that node's ACL refuses GET) never
 *   overrides the script's answer. A refusal stays a refusal (before, the read's error made the
 *   throttle fall back to this process's count, which admitted it), and an admitted attempt leaves
 *   the request's later store calls working (before, the read's failure was the request's store
 *   failure: every later call failed store_unavailable);
 * - a refusal by this process's count reads the store and writes nothing: on Redis with replicas to
 *   acknowledge, no WAIT (before, EVAL + WAIT, waiting out acknowledgeTimeout for a write never
 *   made); on SQLite no write lock (before, BEGIN IMMEDIATE, waiting out busy_timeout behind
 *   another connection's writer, then failing).
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import calculateSlot from 'cluster-key-slot'
import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { createFailureThrottle } from '../../src/api/failure-throttle.js'
import { createSettledThrottle } from '../../src/api/settled-throttle.js'
import { sourceKey, storeSegment } from '../../src/api/source-key.js'
import { COUNTER_TTL_MS, windowKeys, windowOf } from '../../src/api/throttle-counters.js'
import { THROTTLE_WINDOW_MS } from '../../src/api/sliding-window.js'
import { hashTagLayout } from '../../src/store/redis-keys.js'
import { openRedisStore, openSqliteStore, withOneStoreWait, type Store } from '../../src/store/index.js'
import { monitorClient, rawClient, startRedisCluster, startRedisServer, type RedisCluster } from '../support/redis-servers.js'
import { eventually } from '../ops/helpers.js'

const MAX = 3
/** The middle of a minute, fixed: every call of a test names the same counters. */
const NOW = (Math.floor(Date.now() / THROTTLE_WINDOW_MS) + 0.5) * THROTTLE_WINDOW_MS
const clock = { now: () => NOW, steadyNow: () => NOW }

const stops: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

describe('on a Redis Cluster, a failed read of the settled failures (another node) beside the take', () => {
  let started: Promise<{ cluster: RedisCluster; ports: Map<number, number> }> | undefined
  /** The Cluster, and which port serves each slot. */
  const cluster = (): Promise<{ cluster: RedisCluster; ports: Map<number, number> }> =>
    (started ??= (async () => {
      const c = await startRedisCluster(3)
      stops.push(() => c.stop())
      const raw = rawClient(c.nodes[0]?.port as number)
      try {
        const ports = new Map<number, number>()
        for (const [from, to, [, port]] of (await raw.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]) for (let s = from; s <= to; s++) ports.set(s, port)
        return { cluster: c, ports }
      } finally {
        raw.disconnect()
      }
    })())

  /** A store on the Cluster, and a source address whose places and settled failures live on different nodes, that of the failures refusing GET. */
  async function setup(name: string): Promise<{ store: Store; address: string }> {
    const { cluster: c, ports } = await cluster()
    const prefix = `reads-${process.pid}-${name}:`
    const layout = hashTagLayout(prefix)
    const [window] = windowOf(NOW)
    const portOf = (key: string): number => ports.get(calculateSlot(layout.toRedis(key))) as number
    for (let i = 1; ; i++) {
      const address = `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`
      const segment = storeSegment(sourceKey(address))
      const [places, failed] = [windowKeys(name, segment, window).current, windowKeys(`${name}-failed`, segment, window).current]
      if (portOf(places) === portOf(failed)) continue
      const refusing = new Redis(portOf(failed), '127.0.0.1')
      try {
        // Only this throttle's failures are refused: its group's keys, by ACL key pattern.
        await refusing.call('ACL', 'SETUSER', 'default', 'on', 'nopass', '+@all', '~*', '-get')
      } finally {
        refusing.disconnect()
      }
      const store = openRedisStore({ cluster: { nodes: c.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) }, keyPrefix: prefix })
      stops.push(() => store.close())
      return { store, address }
    }
  }

  it('the take refused (places held by other processes): refused all the same, the failures unknown', async () => {
    const name = 'refused'
    const { store, address } = await setup(name)
    const [window] = windowOf(NOW)
    await store.increment(windowKeys(name, storeSegment(sourceKey(address)), window).current, MAX, COUNTER_TTL_MS)
    // A fresh process's count admits it: only the store's refusal holds it back.
    const throttle = createSettledThrottle({ name, max: MAX, maxAddresses: 100, store: () => store, waitMs: 0, ...clock })
    const attempt = await withOneStoreWait(() => throttle.admit(address))
    expect(attempt.admitted).toBe(false)
    const places = createFailureThrottle({ name, max: MAX, maxAddresses: 100, store: () => store, ...clock }, `${name}-failed`)
    expect(await places.admit(address)).toMatchObject({ admitted: false, also: 'unknown' })
  })

  it('the take admitted: the request\'s later store calls still work (the read beside is not made)', async () => {
    const name = 'admitted'
    const { store, address } = await setup(name)
    const places = windowKeys(name, storeSegment(sourceKey(address)), windowOf(NOW)[0]).current
    const throttle = createSettledThrottle({ name, max: MAX, maxAddresses: 100, store: () => store, ...clock })
    await withOneStoreWait(async () => {
      const attempt = await throttle.admit(address)
      expect(attempt.admitted).toBe(true)
      expect(await store.get(places)).toBe('1')
      if (attempt.admitted) await attempt.settle(false)
      expect(await store.get(places)).toBe('0')
    })
  })
})

describe('a refusal by this process\'s count only reads the store', () => {
  it('Redis with a replica to acknowledge (none there): the read is one EVAL, no WAIT (MONITOR)', async () => {
    const server = await startRedisServer()
    stops.push(() => server.stop())
    // MONITOR before any other client (ioredis fails MONITOR when other replies share its read).
    const monitor = await monitorClient(server.port)
    stops.push(() => monitor.disconnect())
    // Each command with its arguments: a marker is found by its own key, never by being the last GET seen
    // (MONITOR may not yet show the refusal's EVAL nor the marker when the earlier marker is still last).
    const seen: string[][] = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => void (source !== 'lua' && seen.push([(args[0] ?? '').toLowerCase(), ...args.slice(1)])))
    const commands = (): string[] => seen.map(([command]) => command ?? '')
    // Far above anything here: the take's WAIT answers at it (no replica), the refusal must never wait.
    const store = openRedisStore({ url: `redis://127.0.0.1:${server.port}`, keyPrefix: 'acked:', acknowledge: { replicas: 1, timeoutMs: 1000 }, commandTimeoutMs: 60_000 })
    stops.push(() => store.close())
    const throttle = createFailureThrottle({ name: 'acked', max: 1, maxAddresses: 100, store: () => store, ...clock })
    expect((await throttle.admit('10.88.0.1')).admitted).toBe(true)
    await eventually(() => commands().includes('wait'), 20_000, 'the take and its WAIT in MONITOR')
    /** Reads a marker key and answers where MONITOR shows that read. */
    const marker = async (name: string): Promise<number> => {
      const key = `marker-${randomUUID()}-${name}`
      await store.get(key)
      const at = (): number => seen.findIndex(([command, ...args]) => command === 'get' && args.some((a) => a.endsWith(key)))
      await eventually(() => at() >= 0, 20_000, `the marker ${name}`)
      return at()
    }
    const from = await marker('before')
    const refused = await throttle.admit('10.88.0.1')
    expect(refused.admitted).toBe(false)
    const upTo = await marker('after')
    expect(commands().slice(from + 1, upTo).filter((c) => c.startsWith('eval') || c === 'wait')).toEqual(['eval'])
  })

  it('SQLite: a refusal read while another connection holds the write lock (BEGIN IMMEDIATE)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'throttle-reads-'))
    stops.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'state.db')
    const store = openSqliteStore({ file, busyTimeoutMs: 50 })
    stops.push(() => store.close())
    const throttle = createFailureThrottle({ name: 'locked', max: 1, maxAddresses: 100, store: () => store, ...clock })
    expect((await throttle.admit('10.88.0.2')).admitted).toBe(true)
    const writer = new Database(file)
    stops.push(() => void writer.close())
    writer.exec('BEGIN IMMEDIATE')
    try {
      const [window] = windowOf(NOW)
      const keys = windowKeys('locked', storeSegment(sourceKey('10.88.0.2')), window)
      // What the refusal reads: the counters, in one step that writes nothing.
      const read = await store.incrementIfUnder([{ key: keys.current, weight: 1 }, { key: keys.previous, weight: 0 }], 0, COUNTER_TTL_MS)
      expect(read).toEqual({ added: false, counts: [1, 0] })
      const refused = await throttle.admit('10.88.0.2')
      expect(refused).toMatchObject({ admitted: false })
    } finally {
      writer.exec('ROLLBACK')
    }
  })
})
