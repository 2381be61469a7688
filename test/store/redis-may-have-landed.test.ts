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
 *   down, but the command was written);
 * - may have run, a take timed out still queued (unwritten when it failed): written once its
 *   connection, made late, is ready; or dropped when ioredis gives up that connection's handshake
 *   (never ran: the lenient answer, the two cannot be told apart when the take fails).
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { openRedisStore, withOneStoreWait, type RedisStore, type RedisStoreOptions } from '../../src/store/index.js'
import { hashTagLayout } from '../../src/store/redis-keys.js'
import { rawClient, rawClientTls, startRedisCluster, startRedisServer, type RawClientTls } from '../support/redis-servers.js'
import { freePort, joinSockets, refusingPort, type Peer } from '../support/peers.js'
import { createTestPki } from '../support/pki.js'
import { adminClient, migrateToNewcomer, type Migration } from './redis-cluster-newcomer.js'
import { eventually } from '../ops/helpers.js'
import { sendSignal } from '../support/signals.js'
import { stateOf } from '../support/stopped-process.js'

const PREFIX = 'landed:'
const COUNTER = 'throttle:token-exchange:v4_10.1.1.1:30'
const TAKE = [{ key: COUNTER, weight: 1 }] as const
/** Far above anything here but a hang: the tests wait on events, never on this. */
const LONG_MS = 60_000
/**
 * A store whose take fails by ioredis's own command timeout: its WAIT (for a replica the server
 * lacks: answered 0 after 100 ms, the take's answer standing) puts the store's deadline 100 ms
 * beyond it, so writeNeverRan judges ioredis's error. 2 s for each handshake command on a loaded
 * machine (300 ms once did not suffice).
 */
const QUEUED: Partial<RedisStoreOptions> = { commandTimeoutMs: 2000, acknowledge: { replicas: 1, timeoutMs: 100 } }

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

/** The value Redis holds for the store's `key`, read by a client of the test's own (no short timeout; over TLS with `tls`). */
async function stored(port: number, key: string, tls?: RawClientTls): Promise<string | null> {
  const raw = rawClient(port, tls)
  try {
    return await raw.get(PREFIX + key)
  } finally {
    raw.disconnect()
  }
}

function counter(port: number, tls?: RawClientTls): Promise<string | null> {
  return stored(port, COUNTER, tls)
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
    const proxy = await redisRelay(peer.port, 'pass')
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

describe('RedisStore.mayHaveLanded: a take that timed out still queued (ioredis had not written it), judged may have run', () => {
  // ioredis queues a command (its offline queue) until the connection is ready, its timeout running
  // from then. On ready it writes the whole queue, timed out or not (Redis.flushOfflineQueue); when a
  // handshake command fails, its own timeout included, it fails and empties the queue instead
  // (recoverFromFatalError) and reconnects. Which of the two follows is unknown when the take fails.

  it('the connection not made yet (its TLS handshake held by a relay): written once the connection is ready', async () => {
    const pki = await createTestPki()
    started.push({ stop: () => pki.cleanup() })
    const serverTls = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), authClients: 'no' } as const
    const peer = await startRedisServer({ tls: serverTls })
    started.push({ stop: () => peer.stop() })
    const relay = await redisRelay(peer.port, 'hold')
    const s = store(relay.port, { ...QUEUED, url: `rediss://127.0.0.1:${relay.port}`, tls: { ca: pki.root.pem, serverName: 'localhost' } })
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    // ioredis's own timeout (not the store's deadline), before the TLS handshake ended: queued, unwritten.
    expect(String(failure)).toMatch(/\(Command timed out while connecting\)/)
    expect(s.mayHaveLanded(failure)).toBe(true)
    const tls = rawClientTls(serverTls)
    expect(await counter(peer.port, tls)).toBeNull()
    relay.release()
    await eventually(async () => (await counter(peer.port, tls)) === '1', LONG_MS, 'the timed-out take to run once the connection is ready')
  })

  // What the warm-up of 'a take refused at once …' above once met on a loaded machine: a write timed out while handshaking, never seen in Redis.
  it("the connection handshaking (the server's replies held by a relay) until ioredis gives the handshake up: dropped with it, never written (the lenient answer: at most one give-back too many)", async () => {
    const peer = await server()
    const relay = await redisRelay(peer.port, 'hold')
    const s = store(relay.port, QUEUED)
    const failure = await failureOf(s.incrementIfUnder(TAKE, 100, 60_000))
    expect(String(failure)).toMatch(/\(Command timed out while handshaking\)/)
    expect(s.mayHaveLanded(failure)).toBe(true)
    // The handshake's own commands were sent after the take was queued: they time out next, and ioredis closes the connection.
    await relay.firstClosed
    relay.release()
    // A write on the reconnected connection: a take still queued would be written before it.
    await eventually(async () => (await failureOf(s.put('marker', '1')), (await stored(peer.port, 'marker')) === '1'), LONG_MS, "a write of the store's next connection to reach Redis")
    expect(await counter(peer.port)).toBeNull()
  })
})

/**
 * A TCP relay to Redis on a free port. The server's replies are relayed (`pass`), kept until
 * `release()` relays them and everything after (`hold`), or dropped (`drop`, after `dropReplies()`);
 * commands always reach the server. `firstClosed` settles once the first connection closes; `close()`
 * ends every connection and refuses new ones (afterEach does it too).
 */
async function redisRelay(redisPort: number, replies: 'pass' | 'hold'): Promise<{ port: number; firstClosed: Promise<void>; release(): void; dropReplies(): void; close(): void }> {
  const sockets = new Set<Socket>()
  const held: { client: Socket; chunks: Buffer[] }[] = []
  let mode: 'pass' | 'hold' | 'drop' = replies
  let connections = 0
  let closed: () => void = () => undefined
  const firstClosed = new Promise<void>((resolve) => (closed = resolve))
  const relay: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1')
    joinSockets(sockets, client, upstream)
    if (connections++ === 0) client.once('close', () => closed())
    const kept = { client, chunks: [] as Buffer[] }
    held.push(kept)
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => (mode === 'hold' ? kept.chunks.push(chunk) : mode === 'pass' && client.write(chunk)))
  })
  const port = await freePort()
  await new Promise<void>((resolve, reject) => relay.once('error', reject).listen(port, '127.0.0.1', resolve))
  const close = (): void => {
    relay.close()
    for (const s of sockets) s.destroy()
  }
  started.push({ stop: close })
  return {
    port,
    firstClosed,
    release() {
      mode = 'pass'
      for (const { client, chunks } of held.splice(0)) if (!client.destroyed && chunks.length > 0) client.write(Buffer.concat(chunks))
    },
    dropReplies: () => void (mode = 'drop'),
    close,
  }
}
