/**
 * RedisStore.mayHaveLanded: whether a write that failed may have run all the same (a failure
 * throttle gives back a take only then: giving back one that never ran takes off another
 * attempt's place). Before, it answered yes for every failure. Each case on a real redis-server
 * of the test's own, and each checked against what Redis holds afterwards:
 * - never ran: Redis answered the script with an error (OOM at maxmemory with noeviction; a TTL
 *   it refuses, which the script once met only after its INCRBY: the counter added, without
 *   TTL, and an error); Redis down (ioredis gives up on the queued command unwritten); a closed
 *   store; a write refused at once after an earlier failure of the same request; READONLY twice
 *   (resent once, then rejected); on a Cluster, ASK toward a node that cannot be reached (a
 *   node joining, stopped; an ASK to one that can be reached is followed and the write runs there);
 * - may have run, and did: a timeout on a paused server (the command written), a connection
 *   lost after the write with the reconnect refused (the same MaxRetriesPerRequestError as Redis
 *   down, but the command was written).
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { openRedisStore, withOneStoreWait, type RedisStore, type RedisStoreOptions } from '../../src/store/index.js'
import { hashTagLayout } from '../../src/store/redis-keys.js'
import { rawClient, startRedisCluster, startRedisServer } from '../support/redis-servers.js'
import { joinSockets, refusingPort, type Peer } from '../support/peers.js'
import { adminClient, migrateToNewcomer, type Migration } from './redis-cluster-newcomer.js'
import { eventually } from '../ops/helpers.js'
import { sendSignal } from '../support/signals.js'
import { stateOf } from '../support/stopped-process.js'

const PREFIX = 'landed:'
const COUNTER = 'throttle:token-exchange:v4_10.1.1.1:30'
const TAKE = [{ key: COUNTER, weight: 1 }] as const
/** Far above anything here but a hang: the tests wait on events, never on this. */
const LONG_MS = 60_000

const started: { stop(): Promise<void> | void }[] = []
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop()
})

async function server(conf = ''): Promise<Peer> {
  const peer = await startRedisServer({ conf: () => conf })
  started.push({ stop: () => peer.stop() })
  return peer
}

function store(port: number, o: Partial<RedisStoreOptions> = {}): RedisStore {
  const s = openRedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX, commandTimeoutMs: LONG_MS, connectTimeoutMs: LONG_MS, ...o })
  started.push({ stop: () => s.close() })
  return s
}

/** A paused server (SIGSTOP, and stopped: state T), continued at the test's end whatever happens. */
async function pause(peer: Peer): Promise<() => void> {
  sendSignal(peer.pid, 'SIGSTOP')
  let paused = true
  const resume = (): void => {
    if (paused) sendSignal(peer.pid, 'SIGCONT')
    paused = false
  }
  started.push({ stop: resume })
  await eventually(() => stateOf(peer.pid) === 'T', LONG_MS, 'the server to stop')
  return resume
}

async function failureOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e)
}

/** The value Redis holds for the store's `key`, read by a client of the test's own (no short timeout). */
async function stored(port: number, key: string): Promise<string | null> {
  const raw = rawClient(port)
  try {
    return await raw.get(PREFIX + key)
  } finally {
    raw.disconnect()
  }
}

function counter(port: number): Promise<string | null> {
  return stored(port, COUNTER)
}

describe('RedisStore.mayHaveLanded: writes that never ran', () => {
  it('a take Redis refuses for memory (maxmemory 1, noeviction): OOM, nothing written', async () => {
    const peer = await server('maxmemory 1\nmaxmemory-policy noeviction\n')
    const s = store(peer.port)
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(failure).toBeInstanceOf(GatewayError)
    expect(String(failure)).toMatch(/OOM/)
    expect(s.mayHaveLanded(failure)).toBe(false)
    expect(await counter(peer.port)).toBeNull()
  })

  it('a take whose TTL Redis refuses: nothing written (the script writes with one command, its last)', async () => {
    const peer = await server()
    const s = store(peer.port)
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 1e19))
    expect(failure).toBeInstanceOf(GatewayError)
    expect(await counter(peer.port)).toBeNull()
    expect(s.mayHaveLanded(failure)).toBe(false)
  })

  it('a take while Redis is down: ioredis gives up on it unwritten', async () => {
    const s = store(await refusingPort())
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(failure).toBeInstanceOf(GatewayError)
    expect(s.mayHaveLanded(failure)).toBe(false)
  })

  it('a take on a closed store', async () => {
    const peer = await server()
    const s = store(peer.port)
    await s.close()
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(failure).toBeInstanceOf(GatewayError)
    expect(s.mayHaveLanded(failure)).toBe(false)
    expect(await counter(peer.port)).toBeNull()
  })

  it('a take refused at once after an earlier take of the same request timed out: the first may have run (and does), the second never', async () => {
    const peer = await server()
    // Only the take must time out. The store's connection is made (and the take written on it, not
    // queued) before the pause: a write of the store seen in Redis, whether or not its answer came
    // within 300 ms (a loaded machine once missed it on the handshake, failing the case there). Tried
    // again until seen: one that timed out queued, during the handshake, may never be written.
    const s = store(peer.port, { commandTimeoutMs: 300 })
    await eventually(async () => (await failureOf(s.put('warm', '1')), (await stored(peer.port, 'warm')) === '1'), LONG_MS, "a write of the store's connection to reach Redis")
    const resume = await pause(peer)
    const [first, second] = await withOneStoreWait(async () => [await failureOf(s.incrementIfUnder(TAKE, 100, 60_000)), await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))])
    expect(first).toBeInstanceOf(GatewayError)
    expect(second).toBeInstanceOf(GatewayError)
    expect(s.mayHaveLanded(first)).toBe(true)
    expect(s.mayHaveLanded(second)).toBe(false)
    resume()
    await eventually(async () => (await counter(peer.port)) === '1', 20_000, 'the first take to run once the server wakes')
    // The store reads it too, its answer in turn after the take's late reply; a try past 300 ms is not
    // what is under test (tried again), a wrong answer is.
    const read = await eventually(() => s.get(COUNTER).then((value) => ({ value }), () => undefined), LONG_MS, 'the store to answer a read')
    expect(read.value).toBe('1')
  })
})

describe('RedisStore.mayHaveLanded: a write a replica refuses (READONLY)', () => {
  it('resent once (reconnectOnError), refused again by a server that stays a replica: rejected, never ran, and never sent again (before, resent at every reconnect for ever)', async () => {
    const primary = await server()
    const replica = await server(`replicaof 127.0.0.1 ${primary.port}\n`)
    // Far above the two refusals and the reconnect between them; before, the take ended only at it.
    const s = store(replica.port, { commandTimeoutMs: 10_000 })
    await eventually(() => s.ping().then(() => true), 20_000, 'the store connected')
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(String(failure)).toMatch(/READONLY/)
    expect(s.mayHaveLanded(failure)).toBe(false)
    const admin = rawClient(replica.port)
    try {
      await admin.call('REPLICAOF', 'NO', 'ONE')
    } finally {
      admin.disconnect()
    }
    // A write on the same connection after the promotion: anything still queued would run before it.
    await eventually(() => s.put('marker', '1').then(() => true, () => false), 20_000, 'a write on the promoted server')
    expect(await counter(replica.port)).toBeNull()
  })
})

describe('RedisStore.mayHaveLanded: a Cluster write ASK-redirected to a node that owns no slot yet (a node joining, absent from CLUSTER SLOTS)', () => {
  /** A Cluster of the test's own (each node requiring `password`, if given), the take's slot migrating to a fourth node, and a store on the first three. */
  async function migrating(password?: string): Promise<{ migration: Migration; s: RedisStore; keysAtOwner(): Promise<unknown> }> {
    const cluster = await startRedisCluster(3)
    started.push({ stop: () => cluster.stop() })
    if (password !== undefined) {
      for (const n of cluster.nodes) {
        const c = adminClient(n.port)
        await c.config('SET', 'requirepass', password).finally(() => c.disconnect())
      }
    }
    const counterKey = hashTagLayout(PREFIX).toRedis(COUNTER)
    const migration = await migrateToNewcomer(cluster, counterKey, password !== undefined ? { password } : {})
    started.push({ stop: () => migration.stop() })
    const s = openRedisStore({ cluster: { nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) }, keyPrefix: PREFIX, commandTimeoutMs: LONG_MS, connectTimeoutMs: LONG_MS, ...(password !== undefined ? { password } : {}) })
    started.push({ stop: () => s.close() })
    // Counted, not read: the owner answers a GET of a key it lacks with ASK.
    return { migration, s, keysAtOwner: () => migration.atOwner.call('CLUSTER', 'COUNTKEYSINSLOT', String(migration.slot)) }
  }

  // Before, the redirect was followed only to a node of the slot map: this take failed ("node … is not
  // among the client's connections"), and so did every write of a new key in the slot for as long as the migration lasted.
  it('followed (ASKING and the take on the newcomer, connected for it): the take runs there, once', async () => {
    const { migration, s, keysAtOwner } = await migrating()
    expect(await s.incrementIfUnder(TAKE, 100, 60_000)).toMatchObject({ added: true })
    expect(await migration.atNewcomer.call('DBSIZE')).toBe(1)
    expect(await keysAtOwner()).toBe(0)
  })

  // Before, the operator read ioredis's "Connection is closed." alone, naming no node.
  it('the newcomer unreachable (stopped): the take never ran, and the failure names the node the ASK named (its address, never the password)', async () => {
    const password = 'landed-newcomer-password-3'
    const { migration, s, keysAtOwner } = await migrating(password)
    await migration.newcomer.stop()
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(failure).toBeInstanceOf(GatewayError)
    expect(String(failure)).toContain(`ASK 127.0.0.1:${migration.newcomer.port} redirect named could not be reached (Connection is closed.)`)
    expect(String(failure)).not.toContain(password)
    expect(s.mayHaveLanded(failure)).toBe(false)
    expect(await keysAtOwner()).toBe(0)
  })
})

describe('RedisStore.mayHaveLanded: writes that may have run, and did', () => {
  it('a take written, its reply lost with the connection and the reconnect refused: ioredis gives up as when Redis is down, but the take ran', async () => {
    const peer = await server()
    const proxy = await replyDroppingProxy(peer.port)
    started.push({ stop: () => proxy.close() })
    const s = store(proxy.port)
    expect(await s.get('warm')).toBeUndefined()
    proxy.dropReplies()
    const taking = failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    await eventually(async () => (await counter(peer.port)) === '1', 20_000, 'the take to reach Redis')
    proxy.close()
    const failure = await taking
    expect(failure).toBeInstanceOf(GatewayError)
    expect(String(failure)).toMatch(/unreachable/)
    expect(s.mayHaveLanded(failure)).toBe(true)
  })

})

/** A TCP proxy to Redis that, once told, forwards commands but no replies; `close` ends its connections and refuses new ones. */
async function replyDroppingProxy(redisPort: number): Promise<{ port: number; dropReplies(): void; close(): void }> {
  const sockets = new Set<Socket>()
  let dropping = false
  const proxy: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1')
    joinSockets(sockets, client, upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => dropping || client.write(chunk))
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const address = proxy.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port')
  return {
    port: address.port,
    dropReplies: () => void (dropping = true),
    close() {
      proxy.close()
      for (const s of sockets) s.destroy()
    },
  }
}
