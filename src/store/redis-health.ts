/**
 * The Redis store's probe (`store_up`, `/readyz`): whether a write could go through now, on every
 * topology. One PING is not that on a Cluster: it reaches one node, and a node answers PING in
 * CLUSTERDOWN (a primary lost, its slots uncovered) while every write fails. So a Cluster is asked
 * at each primary its slot map names, the primary's own view of the cluster (`CLUSTER INFO`, which
 * the client's ready check needs anyway). With replicas to acknowledge, each primary must have them
 * in sync: read from `INFO replication`, or, for a user without `info` (optional, docs/store.md),
 * asked of the server with the `WAIT` the writes use.
 */
import type { Redis } from 'ioredis'
import { GatewayError } from '../errors.js'
import { isCluster, type RedisClient } from './redis-client.js'
import type { ReplicaAcknowledgement } from './redis-store-options.js'
import { nodeAt } from './redis-write.js'
import { UNREACHABLE } from './store.js'

/** How the store runs one command: bounded, its failure in the store's words. */
export type RunProbe = <T>(fn: () => Promise<T>) => Promise<T>

/** Redis's words for a command its ACL refuses. */
const REFUSED = /NOPERM/
const SLOTS = 16384

/** Throws (store_unavailable, naming the primary) unless every primary answers, the Cluster is up at each, and each has the replicas `ack` asks for. */
export async function checkRedisHealth(redis: RedisClient, ack: ReplicaAcknowledgement | undefined, where: string, run: RunProbe): Promise<void> {
  if (!isCluster(redis)) {
    if (ack === undefined) return void (await run(() => redis.ping()))
    return checkReplicas(redis, 'the primary', ack, where, run)
  }
  // A Cluster learns its slot map as it connects: any command waits in the offline queue for that.
  if (redis.status !== 'ready') await run(() => redis.ping())
  const primaries = new Set<string>()
  for (let slot = 0; slot < SLOTS; slot++) {
    const primary = redis.slots[slot]?.[0]
    if (primary === undefined) throw down(where, `the client's slot map names no primary for slot ${slot}`)
    primaries.add(primary)
  }
  await Promise.all([...primaries].map(async (address) => {
    const colon = address.lastIndexOf(':')
    const node = await run(() => named(address, nodeAt(redis, address.slice(0, colon), Number(address.slice(colon + 1)))))
    await checkClusterState(node, address, where, run)
    if (ack !== undefined) await checkReplicas(node, `the primary ${address}`, ack, where, run)
  }))
}

/** The primary's own view of the Cluster: `cluster_state:fail` or slots unassigned or failed mean writes to them answer CLUSTERDOWN. */
async function checkClusterState(node: Redis, address: string, where: string, run: RunProbe): Promise<void> {
  const info = String(await run(() => named(address, node.call('CLUSTER', 'INFO'))))
  const field = (name: string): string | undefined => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1]
  const state = field('cluster_state')
  const assigned = Number(field('cluster_slots_assigned') ?? SLOTS)
  const failed = Number(field('cluster_slots_fail') ?? 0)
  if (state === 'ok' && assigned === SLOTS && failed === 0) return
  throw down(where, `the primary ${address} reports cluster_state:${state ?? '?'} (slots assigned ${assigned}, failed ${failed} of ${SLOTS}): writes to those slots answer CLUSTERDOWN`)
}

/** Throws unless `node` has `ack.replicas` replicas in sync: otherwise no write could be acknowledged, and /readyz must say so. */
async function checkReplicas(node: Redis, which: string, ack: ReplicaAcknowledgement, where: string, run: RunProbe): Promise<void> {
  const replicas = await run(() => replicasInSync(node, ack))
  if (replicas < ack.replicas) throw down(where, `${which} has ${replicas} of the ${ack.replicas} replicas writes must reach`)
}

/** Replicas in sync with `node`: INFO's count, or — for a user without `info` — WAIT's (the replicas that hold this connection's writes). */
async function replicasInSync(node: Redis, ack: ReplicaAcknowledgement): Promise<number> {
  try {
    // Only replicas in sync count: one still loading its first copy cannot confirm a write.
    return (await node.info('replication')).split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length
  } catch (e) {
    if (!(e instanceof Error) || !REFUSED.test(e.message)) throw e
    // Never `WAIT n 0` (it would block for ever); it returns as soon as `n` replicas confirmed, at once when they are in sync.
    return (await node.wait(ack.replicas, ack.timeoutMs))
  }
}

/** `p`, its failure prefixed with the primary it came from. */
async function named<T>(address: string, p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    if (!(e instanceof Error)) throw e
    throw new Error(`the primary ${address}: ${e.message}`, { cause: e })
  }
}

function down(where: string, what: string): GatewayError {
  return new GatewayError('store_unavailable', `redis store ${where}: ${what}`, { callerMessage: UNREACHABLE })
}
