/** The Redis store's options, and what it tells of each connection. */
import type { ClusterOptions, RedisTlsOptions, SentinelOptions } from './redis-client.js'

/** When a write counts as done: after `replicas` replicas confirmed it (Redis WAIT), within `timeoutMs`. */
export interface ReplicaAcknowledgement {
  replicas: number
  timeoutMs: number
}

/** Options of the Redis store (several replicas sharing tokens and the `jti` cache). */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS (one server). */
  url?: string
  /** A primary found through Sentinel (instead of `url`). */
  sentinel?: SentinelOptions
  /** A Redis Cluster reached through these seed nodes (instead of `url`). */
  cluster?: ClusterOptions
  username?: string
  password?: string
  tls?: RedisTlsOptions
  /** Prepended to every key so the gateway can share a Redis with others; default `mtls-gateway:`. */
  keyPrefix?: string
  /** Longest wait for one command, queued or in flight, ms: a down Redis fails a request, never hangs it. */
  commandTimeoutMs?: number
  /** Longest wait for the TCP/TLS connection, ms. */
  connectTimeoutMs?: number
  /** Replicas that must hold a write before it resolves; default none (see docs/store.md). */
  acknowledge?: ReplicaAcknowledgement
  /** Told, each time the store (re)connects to a primary, what would lose keys or fail requests there (RedisConnectWarning). */
  onConnectWarning?: (warning: RedisConnectWarning) => void
}

/** Found at a connection: a `maxmemory-policy` that may evict the gateway's keys, an ACL that refuses a command it uses, another server than the last connection's (a restart, a failover), or a Sentinel refusing the failover watch's subscription. */
export interface RedisConnectWarning {
  about: 'memory_policy' | 'permissions' | 'server_changed' | 'sentinel_refused'
  problem: string
}
