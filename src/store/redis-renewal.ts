/**
 * What a reload renews for a Redis client's next connections, in place: its TLS files' contents and
 * its passwords. Open connections keep theirs, as they would across a restart.
 */
import type { ConnectionOptions } from 'node:tls'
import type { Redis } from 'ioredis'
import type { RedisClient, RedisTlsOptions } from './redis-client.js'
import { sentinelWatchOf } from './redis-sentinel-watch.js'

/** Node's TLS options for `tls`. */
export function tlsOptions(tls: RedisTlsOptions): ConnectionOptions {
  // Client options (not per request).
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
  }
}

/**
 * Each client's TLS options, one object handed to ioredis by reference for its data
 * connections (every Cluster node's included) and its Sentinels: ioredis copies it into
 * every (re)connect, so replacing its contents makes the next connection use renewed files.
 */
const liveTls = new WeakMap<RedisClient, ConnectionOptions>()

/** `tls`, the object handed to ioredis for `client`, is the one later renewals change. */
export function keepLiveTls(client: RedisClient, tls: ConnectionOptions): void {
  liveTls.set(client, tls)
}

/** New connections of `client` use `tls` (renewed certificate files); open ones keep theirs. */
export function renewClientTls(client: RedisClient, tls: RedisTlsOptions): void {
  const live = liveTls.get(client)
  if (!live) return
  const next = tlsOptions(tls)
  for (const key of Object.keys(live)) if (!(key in next)) delete live[key as keyof ConnectionOptions]
  Object.assign(live, next)
}

/**
 * New connections of a one-server or Sentinel `client` authenticate with `passwords` (a rotation):
 * ioredis reads its options at each connect, the Sentinel connector shares them. A Cluster's node
 * clients copy theirs, so its passwords stay restart-only (runtime's STORE_RESTART_ONLY).
 */
export function renewClientPasswords(client: RedisClient, passwords: { password?: string; sentinelPassword?: string }): void {
  if (client.isCluster) return
  const options = (client as Redis).options
  // Absent: the URL's, or none, as at opening (adding or removing one is restart-only).
  if (passwords.password !== undefined) options.password = passwords.password
  if (passwords.sentinelPassword !== undefined && options.sentinels) {
    options.sentinelPassword = passwords.sentinelPassword
    sentinelWatchOf(client)?.renewPassword(passwords.sentinelPassword)
  }
}
