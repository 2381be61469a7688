/**
 * A store write and, when replicas must acknowledge it, its WAIT, on one connection: on a
 * Cluster, the connection of the primary that holds the key's slot, chosen here and never by
 * the Cluster pipeline. A Cluster pipeline follows a MOVED or ASK by its own rules: ioredis 6.0
 * only when every command failed alike or the others only read (a write's WAIT answers, so the
 * redirect came back as the write's error), ioredis 6.1 by resending the redirected write alone
 * while its WAIT stays on the node that redirected it (which then confirms a write it never
 * took, or refuses: `ERR WAIT cannot be used with replica instances`). Here the pair is sent on
 * the key's primary's connection and follows a redirect itself, to the node named, both commands
 * again (WAIT counts the replicas of the server that took the write). The node named may be one the
 * slot map does not hold (a node added to the cluster, importing its first slot): it is reached as
 * ioredis reaches it for its own commands, a connection of the client's pool made with the
 * Cluster's options (TLS, credentials) like every other node's.
 */
import calculateSlot from 'cluster-key-slot'
import type { Cluster, Command, Pipeline, Redis } from 'ioredis'
import { isCluster, isReplyTo, isRetriesExhausted, newCommand, newPipeline, type RedisClient } from './redis-client.js'
import type { ReplicaAcknowledgement } from './redis-store-options.js'

/** One write command: its name (lower case, as ioredis names the commands it answers) and arguments. */
export type RedisWrite = readonly [name: string, ...args: (string | number)[]]

/** ioredis's words for a command it refuses at once, never written, once the client ended. */
const CLIENT_ENDED = 'Connection is closed.'

const REDIRECT = /^(MOVED|ASK) \d+ (\S+):(\d+)$/
/** As ioredis's own `maxRedirections` bounds a command: a slot moving on each try is a loop. */
const MAX_REDIRECTS = 16

/**
 * Runs `write` (one command on `key`) and, with `ack`, WAIT, on the server that holds `key`: [reply,
 * replicas that confirmed], failing on the first error. `sent` gets the write's command as queued,
 * once per server tried (a redirect followed), for writeNeverRan.
 */
export async function execWrite(redis: RedisClient, key: string, write: RedisWrite, ack: ReplicaAcknowledgement | undefined, sent: Command[]): Promise<unknown[]> {
  const build = (p: Pipeline): void => {
    const [name, ...args] = write
    const command = newCommand(name, args)
    sent.push(command)
    p.sendCommand(command)
    if (ack !== undefined) p.wait(ack.replicas, ack.timeoutMs)
  }
  // A write answered MOVED or ASK ran nowhere: only the one sent after it may have.
  if (isCluster(redis)) return execClusterWrite(redis, key, build, () => void sent.pop(), () => sent.at(-1)?.isTraced !== true)
  return execOn(redis, build)
}

/** The pipeline on one connection; refused as ioredis would refuse it (at once, never written) once the client ended, before any command is made. */
async function execOn(connection: Redis, build: (p: Pipeline) => void): Promise<unknown[]> {
  if (connection.status === 'end') throw new Error(CLIENT_ENDED)
  const p = newPipeline(connection)
  build(p)
  return pipelineReplies((await p.exec()) ?? [])
}

/**
 * Whether Redis certainly did not run a write execWrite failed with `failure`, given its commands as
 * `sent`: none was made or none that was not redirected (refused before, a Cluster naming no server
 * for the key), or the last one was answered with an error of its own (a ReplyError naming it: a
 * script writes with one command, its last, redis-scripts.ts), or ioredis gave up on it unwritten
 * (MaxRetriesPerRequestError empties the offline queue, and so does a connection ending for good:
 * a redirect's node that could not be reached; ioredis marks a command `isTraced` as it writes it).
 * Anything else may have run: a timeout, whether the command was written (a reply lost) or still
 * queued; a connection lost after the write; a READONLY resend (ioredis resends the command once, to
 * the server it reconnects to) that fails otherwise; a WAIT's error (the write ran). A command timed
 * out in the queue (the connection not made or not through its handshake: `isTraced` unset) stays
 * there: ioredis writes it once the connection is ready, late or after a reconnect, and drops it only
 * if it gives up as above or the connection's handshake fails (a handshake command timing out too:
 * recoverFromFatalError empties the queue) — which of the two is not known when the write fails
 * (test/store/redis-may-have-landed.test.ts, "still queued": one of each). So two cases are judged
 * "may have run" though they never did (lenient by one give-back each): that dropped one, and a
 * READONLY resend ioredis then gives up on unwritten (MaxRetriesPerRequestError after failed
 * reconnects): `isTraced` is already set by the first write, and ioredis keeps no count of writes.
 */
export function writeNeverRan(failure: unknown, sent: readonly Command[]): boolean {
  const last = sent.at(-1)
  if (last === undefined) return true
  // Unwritten, and taken off the client's queues: ioredis gave up on it, or its connection ended (a
  // node connection is never retried: one to a node that could not be reached ends).
  return isReplyTo(failure, last.name) || (!last.isTraced && (isRetriesExhausted(failure) || isClientEnded(failure)))
}

/** ioredis's rejection of every command still queued when a connection ends for good (named by the redirect it followed). */
function isClientEnded(e: unknown): boolean {
  return e instanceof RedirectNodeEnded || (e instanceof Error && e.message === CLIENT_ENDED)
}

/**
 * ioredis's CLIENT_ENDED on the connection to a node a redirect named, with that node's address:
 * ioredis's own words name no node, and the operator needs the one the cluster pointed at (a node
 * joining, not reachable from the gateway). Host and port only, never the connection's options.
 */
class RedirectNodeEnded extends Error {
  constructor(namedBy: string) {
    super(`the node the cluster's ${namedBy} redirect named could not be reached (${CLIENT_ENDED})`)
    this.name = 'RedirectNodeEnded'
  }
}

/**
 * `unwritten`: whether the write of the last try was never written (ioredis marks a command `isTraced`
 * as it writes it). ioredis drops the connection of a node a slot refresh finds owning no slot (the
 * last of its slots moved away) and fails what waited on it, unwritten, with CLIENT_ENDED: that write
 * ran nowhere, and goes to the primary the refreshed map names instead. A node still named (down, or a
 * MOVED's owner that cannot be reached) and an ASK's (a one-shot redirect) fail as before.
 */
async function execClusterWrite(cluster: Cluster, key: string, build: (p: Pipeline) => void, redirected: () => void, unwritten: () => boolean): Promise<unknown[]> {
  const slot = calculateSlot(key)
  let node = await slotPrimary(cluster, key)
  let asking = false
  /** The redirect that named `node` ("ASK 127.0.0.1:7001"), once one was followed. */
  let namedBy: string | undefined
  // ioredis's words for a connection that ended name no node: the operator needs the one a redirect named.
  const named = (e: unknown): unknown => (namedBy !== undefined && isClientEnded(e) ? new RedirectNodeEnded(namedBy) : e)
  /** Whether `failure` of a try on `node` is its connection dropped by a slot refresh, the write unwritten (above). */
  const dropped = (failure: unknown, redirects: number): boolean => {
    const owner = cluster.slots[slot]?.[0]
    return !asking && redirects < MAX_REDIRECTS && isClientEnded(failure) && unwritten() && owner !== undefined && owner !== `${node.options.host ?? ''}:${node.options.port ?? ''}`
  }
  for (let redirects = 0; ; redirects++) {
    // The pipeline answers a connection's end as each command's error, or rejects when it had ended before.
    const results = await onNode(node, asking, build).catch((e: unknown) => [[e as Error, undefined]] as [Error, undefined][])
    if (dropped(results[0]?.[0], redirects)) {
      redirected()
      node = await slotPrimary(cluster, key)
      namedBy = undefined
      continue
    }
    const redirect = REDIRECT.exec(results[0]?.[0]?.message ?? '')
    if (redirect === null || redirects === MAX_REDIRECTS) return pipelineReplies(results.map(([err, reply]) => [err && (named(err) as Error), reply]))
    redirected()
    const [, kind, host = '', port = ''] = redirect
    // MOVED is for good: the client learns the new owner for the next commands too.
    if (kind === 'MOVED') cluster.refreshSlotsCache()
    node = nodeConnections(cluster).findOrCreate({ host, port: Number(port) })
    asking = kind === 'ASK'
    namedBy = `${kind ?? ''} ${host}:${port}`
  }
}

/** The pipeline on one node's connection (after ASKING when `asking`): each command's result, ASKING's left out. */
async function onNode(node: Redis, asking: boolean, build: (p: Pipeline) => void): Promise<[Error | null, unknown][]> {
  if (node.status === 'end') throw new Error(CLIENT_ENDED)
  const p = newPipeline(node)
  // ASK: the importing node takes the key only right after ASKING, on the same connection.
  if (asking) p.asking()
  build(p)
  return ((await p.exec()) ?? []).slice(asking ? 1 : 0)
}

/** The connection of the primary the client's slot map names for `key` (the map is learnt as the client connects). */
async function slotPrimary(cluster: Cluster, key: string): Promise<Redis> {
  const slot = calculateSlot(key)
  // Until the client has connected and read CLUSTER SLOTS, any command waits for it in the offline queue.
  if (cluster.slots[slot] === undefined && cluster.status !== 'ready') await cluster.ping()
  const primary = cluster.slots[slot]?.[0]
  if (primary === undefined) throw new Error(`the cluster's slot map names no primary for slot ${slot}`)
  const colon = primary.lastIndexOf(':')
  return nodeAt(cluster, primary.slice(0, colon), Number(primary.slice(colon + 1)))
}

/** The client's connection to the slot map's node `host:port` (a new primary after a refresh). */
export async function nodeAt(cluster: Cluster, host: string, port: number): Promise<Redis> {
  const find = (): Redis | undefined => cluster.nodes('all').find((n) => n.options.host === host && n.options.port === port)
  const known = find()
  if (known !== undefined) return known
  await new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()))
  const found = find()
  if (found === undefined) throw new Error(`node ${host}:${port} (the slot map named it) is not among the client's connections`)
  return found
}

/** What ioredis's Cluster keeps its node connections in (private in its types; it follows its own MOVED and ASK with it). */
interface NodeConnections {
  /** The connection to `node`, made with the Cluster's options (TLS, credentials) when the pool has none; ioredis drops it again at a slot map refresh while the node owns no slot. */
  findOrCreate(node: { host: string; port: number }): Redis
}

function nodeConnections(cluster: Cluster): NodeConnections {
  const pool = (cluster as unknown as { connectionPool?: Partial<NodeConnections> }).connectionPool
  if (typeof pool?.findOrCreate !== 'function') throw new Error("this ioredis's Cluster has no connection pool (connectionPool.findOrCreate) to follow a redirect with")
  return pool as NodeConnections
}

function pipelineReplies(results: [Error | null, unknown][]): unknown[] {
  return results.map(([err, reply]) => {
    if (err) throw err
    return reply
  })
}
