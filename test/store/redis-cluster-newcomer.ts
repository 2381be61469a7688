/**
 * A node added to a test Cluster (startRedisCluster) and the start of a resharding toward it, as
 * `redis-cli --cluster reshard` does one slot: `CLUSTER MEET`, then `CLUSTER SETSLOT … IMPORTING`
 * on the newcomer and `… MIGRATING` on the owner. Until `SETSLOT … NODE` the newcomer owns no slot
 * (CLUSTER SLOTS leaves it out) and the owner answers ASK toward it for every key it lacks.
 */
import calculateSlot from 'cluster-key-slot'
import type { Redis } from 'ioredis'
import type { Peer } from '../support/peers.js'
import { fixedFreePort } from '../support/fixed-ports.js'
import { eventually } from '../support/eventually.js'
import { rawClient, rawClientTls, startRedisServer, type RedisCluster, type RedisServerTls } from '../support/redis-servers.js'

/** How the cluster's nodes are reached: TLS as startRedisCluster's `tls`, and `requirepass` (set on each). */
export interface NodeSecurity {
  tls?: RedisServerTls
  password?: string
}

/** The test's admin connection to one node (loopback, with `security`). */
export function adminClient(port: number, security: NodeSecurity = {}): Redis {
  return rawClient(port, security.tls && rawClientTls(security.tls), security.password)
}

export interface Migration {
  readonly slot: number
  readonly newcomer: Peer
  /** Admin connections to the newcomer and to the slot's owner. */
  readonly atNewcomer: Redis
  readonly atOwner: Redis
  /** MIGRATE of the owner's keys in the slot to the newcomer (every key then answered ASK). */
  moveKeys(): Promise<void>
  /** `SETSLOT … NODE` on every node: the newcomer owns the slot (the owner answers MOVED). */
  finish(): Promise<void>
  /** Closes the admin connections and stops the newcomer. */
  stop(): Promise<void>
}

/** Adds a node to `cluster` (with the nodes' `security`) and starts migrating the slot of `redisKey` to it. */
export async function migrateToNewcomer(cluster: RedisCluster, redisKey: string, security: NodeSecurity = {}): Promise<Migration> {
  const { tls, password } = security
  // Its ports outside the ephemeral range, as the cluster's (startRedisCluster).
  const bus = await fixedFreePort()
  const newcomer = await startRedisServer({
    ...(tls !== undefined ? { tls } : {}),
    port: await fixedFreePort(),
    conf: () => `cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-port ${bus}\ncluster-node-timeout 3000\n${tls ? 'tls-cluster yes\n' : ''}${password !== undefined ? `requirepass ${password}\n` : ''}`,
  })
  const admins = cluster.nodes.map((n) => adminClient(n.port, security))
  const atNewcomer = adminClient(newcomer.port, security)
  const stop = async (): Promise<void> => {
    for (const c of [...admins, atNewcomer]) c.disconnect()
    await newcomer.stop()
  }
  try {
    const ids = await Promise.all(admins.map(async (c) => String(await c.call('CLUSTER', 'MYID'))))
    const newcomerId = String(await atNewcomer.call('CLUSTER', 'MYID'))
    await admins[0]?.call('CLUSTER', 'MEET', '127.0.0.1', String(newcomer.port), String(bus))
    const knows = async (who: Redis, id: string): Promise<boolean> => String(await who.call('CLUSTER', 'NODES')).split('\n').some((l) => l.startsWith(id) && l.includes(' connected'))
    await eventually(async () => (await Promise.all([...admins.map((c) => knows(c, newcomerId)), ...ids.map((id) => knows(atNewcomer, id))])).every(Boolean), 20_000, 'the newcomer and every node to know each other')
    // A master that joins answers CLUSTERDOWN until it has the slot map (and a moment more: Redis's rejoin delay).
    await eventually(async () => String(await atNewcomer.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000, 'the newcomer to report state ok')
    const slot = calculateSlot(redisKey)
    const ranges = (await admins[0]?.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][]
    const [, , [, ownerPort, ownerId]] = ranges.find(([from, to]) => from <= slot && slot <= to) as [number, number, [string, number, string]]
    const atOwner = admins[cluster.nodes.findIndex((n) => n.port === ownerPort)] as Redis
    // The documented order: the importing side first, so the owner never sends ASK to a node that refuses it.
    await atNewcomer.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ownerId)
    await atOwner.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', newcomerId)
    const auth = password !== undefined ? ['AUTH', password] : []
    return {
      slot, newcomer, atNewcomer, atOwner, stop,
      async moveKeys() {
        for (;;) {
          const keys = (await atOwner.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[]
          if (keys.length === 0) return
          await atOwner.call('MIGRATE', '127.0.0.1', String(newcomer.port), '', '0', '5000', ...auth, 'KEYS', ...keys)
        }
      },
      async finish() {
        for (const c of [atNewcomer, atOwner, ...admins.filter((c) => c !== atOwner)]) await c.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', newcomerId)
      },
    }
  } catch (e) {
    await stop()
    throw e
  }
}
