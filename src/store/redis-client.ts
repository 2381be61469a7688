/**
 * The ioredis client for each Redis topology — one server (optionally over TLS), a primary
 * found through Sentinel, or a Cluster — with the same failure behaviour everywhere: a
 * command fails within bounded time while Redis is away instead of queueing for ever, and
 * the client reconnects on its own (following a Sentinel failover or Cluster resharding).
 */
import { createRequire } from 'node:module'
import type { ConnectionOptions } from 'node:tls'
import type { Cluster, Command, Pipeline, Redis, RedisOptions } from 'ioredis'
import { NO_SERVER_HANDOFF } from './redis-no-handoff.js'
import { reconnectOnReadOnly } from './redis-readonly-answer.js'
import { keepLiveTls, tlsOptions } from './redis-renewal.js'
import { SentinelWatch, sentinelWatchOf } from './redis-sentinel-watch.js'

export { describeTopology, topologyOf } from './redis-topology.js'

/** ioredis, loaded with the first Redis client: a gateway on SQLite never keeps its code (~2.4 MB of heap) alive for every major collection to mark. */
const ioredis = ((load) => () => load('ioredis') as typeof import('ioredis'))(createRequire(import.meta.url))

/** A command to queue (Pipeline.sendCommand), kept by its sender to learn afterwards whether ioredis wrote it. */
export function newCommand(name: string, args: readonly (string | number)[]): Command {
  // Replies as strings, as the client's own command methods give them (a bare Command answers Buffers).
  return new (ioredis().Command)(name, [...args], { replyEncoding: 'utf8' })
}

/** Commands to send together on `connection` (what its `pipeline()` makes, typed to take a made Command). */
export function newPipeline(connection: Redis): Pipeline {
  return new (ioredis().Pipeline)(connection)
}

/** Whether `e` is Redis's error reply to the command named `name` (ioredis names the command a ReplyError answered). */
export function isReplyTo(e: unknown, name: string): boolean {
  return e instanceof (ioredis().ReplyError as ErrorConstructor) && (e as { command?: { name?: unknown } }).command?.name === name
}

/** Whether `e` is ioredis giving up on the commands it queued (after failed reconnects, maxRetriesPerRequest). */
export function isRetriesExhausted(e: unknown): boolean {
  return e instanceof ioredis().MaxRetriesPerRequestError
}

/** A `host:port` pair of a Sentinel or a Cluster seed node. */
export interface RedisAddress {
  host: string
  port: number
}

/** TLS to Redis (and to its Sentinels): PEM texts, not paths. */
export interface RedisTlsOptions {
  /** Roots trusted for the server certificate; default: Node's bundled roots. */
  ca?: string
  /** Client certificate and key, when Redis requires them (`tls-auth-clients yes`). */
  cert?: string
  key?: string
  passphrase?: string
  /** Name checked against the server certificate (and sent as SNI); default: the host dialled. */
  serverName?: string
}

/** Where the store's Redis is. */
export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: RedisAddress[]; primaryName: string; sentinelUsername?: string; sentinelPassword?: string; db?: number }
  | { kind: 'cluster'; nodes: RedisAddress[] }

/** The Sentinel and Cluster parts of a topology, as options give them. */
export type SentinelOptions = Omit<Extract<RedisTopology, { kind: 'sentinel' }>, 'kind'>
export type ClusterOptions = Omit<Extract<RedisTopology, { kind: 'cluster' }>, 'kind'>

/** Everything needed to open a client. */
export interface RedisClientOptions {
  topology: RedisTopology
  username?: string
  password?: string
  /** TLS on every connection; a `rediss://` URL turns it on with defaults. */
  tls?: RedisTlsOptions
  connectTimeoutMs: number
  commandTimeoutMs: number
  /** A READONLY answer the client reconnects on (a replica), for the store's failure messages. */
  onReadOnly?: (e: Error) => void
  onSentinelRefused?: (problem: string) => void // a Sentinel refused the failover watch (SentinelSubscriptions)
}

/** Either client; both speak the same commands. */
export type RedisClient = Redis | Cluster

/** A Cluster client (its primaries are many), told apart without loading ioredis for `instanceof`. */
export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster
}

const backoff = (times: number): number => Math.min(times * 200, 2000)

/** Options every connection shares, whatever the topology. */
function connectionOptions(o: RedisClientOptions, tls: ConnectionOptions | undefined): RedisOptions {
  return {
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs,
    // Commands queued while (re)connecting fail after one unsuccessful reconnect instead of
    // the default twenty, so an absent Redis answers within about a second.
    maxRetriesPerRequest: 1,
    // A command whose reply was lost with the connection fails (by commandTimeout) rather
    // than being re-run: a resent GETDEL or SET NX would report our own first run as "taken".
    autoResendUnfulfilledCommands: false,
    // READONLY: a failover's demoted primary (reconnect, resend once) or a replica (redis-readonly-answer.ts).
    reconnectOnError: (e) => reconnectOnReadOnly(e, o.onReadOnly),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...NO_SERVER_HANDOFF,
  }
}

/** Opens (lazily, in the background) the client for the configured topology. */
export function createRedisClient(o: RedisClientOptions): RedisClient {
  const tls = o.tls !== undefined ? tlsOptions(o.tls) : undefined
  const client = createClient(o, tls)
  if (tls) keepLiveTls(client, tls)
  return client
}

function createClient(o: RedisClientOptions, liveTlsOptions: ConnectionOptions | undefined): RedisClient {
  const common = connectionOptions(o, liveTlsOptions)
  const t = o.topology
  switch (t.kind) {
    case 'standalone': {
      // A rediss:// URL turns TLS on in ioredis; explicit TLS options refine it.
      // Client options (not per request).
      return new (ioredis().Redis)(t.url, { ...common, retryStrategy: backoff, enableOfflineQueue: true })
    }
    case 'sentinel':
      return sentinelClient(t, common, o, liveTlsOptions)
    case 'cluster': {
      const { tls, maintNotifications: _clusterSetsItsOwn, ...redisOptions } = common
      return new (ioredis().Cluster)(t.nodes, {
        // Client options (not per request).
        redisOptions: { ...redisOptions, ...(tls !== undefined ? { tls } : {}) },
        clusterRetryStrategy: backoff,
        enableOfflineQueue: true,
        enableReadyCheck: true,
        slotsRefreshTimeout: o.connectTimeoutMs,
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        // Node addresses come from the cluster itself (CLUSTER SLOTS): never re-resolve them.
        dnsLookup: (address, callback) => callback(null, address),
      })
    }
  }
}

/** A client of the primary Sentinel names, following its `+switch-master` (SentinelWatch). */
function sentinelClient(t: Extract<RedisTopology, { kind: 'sentinel' }>, common: RedisOptions, o: RedisClientOptions, liveTlsOptions: ConnectionOptions | undefined): Redis {
  const { connectTimeoutMs, onSentinelRefused } = o, sentinelTls = liveTlsOptions !== undefined ? { tls: liveTlsOptions } : {}
  // Client options (not per request).
  const watch = new SentinelWatch({ ...t, connectTimeoutMs, ...sentinelTls, retryStrategy: backoff, ...(onSentinelRefused !== undefined ? { onRefused: onSentinelRefused } : {}) })
  const IoRedis = ioredis().Redis
  // Client options (not per request).
  const client = new IoRedis({
    ...common,
    sentinels: t.sentinels,
    name: t.primaryName,
    role: 'master',
    ...(t.db !== undefined ? { db: t.db } : {}),
    ...(t.sentinelUsername !== undefined ? { sentinelUsername: t.sentinelUsername } : {}),
    ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
    ...(liveTlsOptions !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: liveTlsOptions } : {}),
    sentinelCommandTimeout: connectTimeoutMs,
    sentinelRetryStrategy: backoff,
    // The watch follows `+switch-master` itself (not ioredis's `failoverDetector`, which can end
    // the client): it learns from `natMap` which primary each Sentinel lookup named.
    natMap: watch.natMap,
    retryStrategy: backoff,
    enableOfflineQueue: true,
  })
  watch.follow(client, (options) => new IoRedis(options))
  return client
}

/** Closes `client` and its Sentinel watch: QUIT lets commands already sent finish; else a hard disconnect. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  sentinelWatchOf(client)?.stop()
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
  else client.disconnect()
}
