/**
 * A store write on the connection of the primary the client's slot map named, never written yet
 * (the connection still opening), when a slot refresh finds that node owns no slot any more:
 * ioredis drops the connection and fails what was queued on it ("Connection is closed."). The
 * write ran nowhere, and the refreshed map names the slot's new owner: it is sent there. Before, it
 * failed (store_unavailable): in redis-cluster-migration.test.ts a dance-state take failed so while
 * the last slots of a primary changed hands. Here the node is held between its connection and its
 * first answer with SIGSTOP (what a loaded machine does for a moment), so the write waits on it.
 */
import calculateSlot from 'cluster-key-slot'
import type { Cluster, Command, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeRedisClient, createRedisClient } from '../../src/store/redis-client.js'
import { hashTagLayout } from '../../src/store/redis-keys.js'
import { execWrite } from '../../src/store/redis-write.js'
import { eventually } from '../support/eventually.js'
import { rawClient, startRedisCluster, type RedisCluster } from '../support/redis-servers.js'
import { migrateToNewcomer, type Migration } from './redis-cluster-newcomer.js'
import { sendSignal } from '../support/signals.js'

const layout = hashTagLayout(`dropped-node-${process.pid}:`)
let cluster: RedisCluster
let migration: Migration | undefined
let admins: Redis[] = []

beforeAll(async () => {
  cluster = await startRedisCluster(3)
  admins = cluster.nodes.map((n) => rawClient(n.port))
  // A node that does not answer then owns a slot: the others keep serving theirs.
  for (const a of admins) await a.config('SET', 'cluster-require-full-coverage', 'no')
})

afterAll(async () => {
  if (migration !== undefined) sendSignal(migration.newcomer.pid, 'SIGCONT')
  await migration?.stop()
  for (const a of admins) a.disconnect()
  await cluster?.stop()
})

/** The client's connection to the node at `port`, if its pool has one. */
const connectionTo = (client: Cluster, port: number): Redis | undefined => client.nodes('all').find((n) => n.options.port === port)

/** Waits for the client's next slot refresh to end. */
const refreshed = (client: Cluster): Promise<void> => new Promise((resolve) => client.refreshSlotsCache(() => resolve()))

describe('a Cluster write queued on a primary a slot refresh drops (it owns no slot any more)', () => {
  it('is sent to the primary the refreshed slot map names, once, and counts as one that never ran there', async () => {
    const key = layout.toRedis('dance:state')
    const slot = calculateSlot(key)
    const client = createRedisClient({ topology: { kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) }, connectTimeoutMs: 1000, commandTimeoutMs: 60_000 }) as Cluster
    try {
      // Ready (its ready check made) before the newcomer exists: nothing but the write below uses the newcomer's connection.
      await client.ping()
      migration = await migrateToNewcomer(cluster, key)
      const m = migration
      await m.finish()
      const ownerId = String(await m.atOwner.call('CLUSTER', 'MYID'))
      await refreshed(client)
      // The map names the newcomer for the slot; its connection is made, not yet opened (ioredis connects at the first command).
      expect(client.slots[slot]?.[0]).toBe(`127.0.0.1:${m.newcomer.port}`)
      expect(connectionTo(client, m.newcomer.port)?.status).toBe('wait')
      sendSignal(m.newcomer.pid, 'SIGSTOP')
      const sent: Command[] = []
      const write = execWrite(client, key, ['set', key, 'kept'], undefined, sent).then((r) => ({ r }), (e: unknown) => ({ e }))
      // Connected (the kernel accepts for the stopped node), its ready check unanswered: the SET waits unwritten in the queue.
      await eventually(() => connectionTo(client, m.newcomer.port)?.status === 'connect', 20_000, 'the connection to the stopped newcomer')
      expect(sent.map((c) => [c.name, c.isTraced])).toEqual([['set', false]])
      // The slot goes back to its owner on every node that answers; the client's next refresh finds the newcomer owns none.
      for (const a of admins) await a.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', ownerId)
      await refreshed(client)
      expect(client.slots[slot]?.[0]).toBe(`127.0.0.1:${m.atOwner.options.port}`)
      const outcome = await write
      expect('e' in outcome ? String(outcome.e) : outcome.r).toEqual(['OK'])
      expect(await m.atOwner.get(key)).toBe('kept')
      // One command sent, on the owner's connection: the one queued on the dropped connection ran nowhere.
      expect(sent.map((c) => [c.name, c.isTraced])).toEqual([['set', true]])
    } finally {
      await closeRedisClient(client)
    }
  })
})
