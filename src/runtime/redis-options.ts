/** `store` settings → the Redis store's options: TLS files read at start, and again on each reload (renewed contents reach new connections). */
import { configProblem, decodedUrlCredential, readConfigFile, type GatewayConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { tlsFileProblems, type PemFile } from '../tls/index.js'
import type { RedisConnectWarning, RedisStoreOptions, RenewedConnections, Store, StoreConfig } from '../store/index.js'

type StoreSettings = GatewayConfig['store']

/**
 * `store.redis.tls`'s files, read and checked (tlsFileProblems: a CA file with a certificate, a
 * certificate, a key that `keyPassphrase` decrypts and that matches it); every problem at once,
 * as a ConfigError naming its key. Redis connects in the background: without this, such files
 * would show only as a store that never gets ready.
 */
function readRedisTls(config: GatewayConfig, t: NonNullable<StoreSettings['redis']['tls']>): { ca?: string; cert?: string; key?: string } {
  const read: { ca?: string; cert?: string; key?: string } = {}
  const problems: ConfigProblem[] = []
  const problem = (key: string, msg: string): void => void problems.push(configProblem(config, `store.redis.tls.${key}`, msg))
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = t[key]
    if (file === undefined) continue
    try {
      read[key] = readConfigFile(file, 'utf8')
    } catch (e) {
      problem(key, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
    }
  }
  const pem = (key: 'ca' | 'cert' | 'key'): PemFile | undefined => (read[key] !== undefined && t[key] !== undefined ? { file: t[key], pem: read[key] } : undefined)
  const files = { ca: pem('ca'), cert: pem('cert'), key: pem('key'), passphrase: t.keyPassphrase, passphraseKey: 'store.redis.tls.keyPassphrase' }
  for (const p of tlsFileProblems(files)) problem(p.field, `${p.file}: ${p.msg}`)
  if (problems.length > 0) throw new ConfigError(problems)
  return read
}

/** The Redis store's options from the validated config. */
export function redisStoreOptions(config: GatewayConfig): RedisStoreOptions {
  const s: StoreSettings = config.store
  const r = s.redis
  const t = r.tls
  // Client options, built at start-up (not per request).
  return {
    ...(r.sentinel !== undefined
      ? {
          sentinel: {
            sentinels: r.sentinel.addresses,
            primaryName: r.sentinel.primaryName,
            db: r.sentinel.db,
            ...(r.sentinel.username !== undefined ? { sentinelUsername: r.sentinel.username } : {}),
            ...(r.sentinel.password !== undefined ? { sentinelPassword: r.sentinel.password } : {}),
          },
        }
      : r.cluster !== undefined
        ? { cluster: { nodes: r.cluster.nodes } }
        : { url: s.url as string }),
    keyPrefix: s.keyPrefix,
    ...(r.username !== undefined ? { username: r.username } : {}),
    ...(r.password !== undefined ? { password: r.password } : {}),
    ...(t !== undefined
      // TLS options (not per request).
      ? { tls: { ...readRedisTls(config, t), ...(t.keyPassphrase !== undefined ? { passphrase: t.keyPassphrase } : {}), ...(t.serverName !== undefined ? { serverName: t.serverName } : {}) } }
      : {}),
    acknowledge: { replicas: r.replicasToAcknowledge, timeoutMs: r.acknowledgeTimeoutMs },
    commandTimeoutMs: r.commandTimeoutMs,
    connectTimeoutMs: r.connectTimeoutMs,
  }
}

/**
 * `store.redis` without what a reload renews in place (gateReadiness), what `tls` and
 * `credentialSettings` judge under their own keys.
 */
export function withoutReloadable(r: StoreSettings['redis']): object {
  const { gateReadiness: _gate, username: _user, password: _password, sentinel, tls: _tls, ...rest } = r
  // On reload (not per request).
  return { ...rest, sentinel: sentinel && { ...sentinel, password: undefined } }
}

/**
 * The credentials a store keeps until a restart, by config key: the user, and for passwords of
 * one server or Sentinel whether one is given (a new one reloads; one added or removed does not:
 * without it, a password in the URL, or none, is what the open connections use); a Cluster's
 * password itself (its node clients copy theirs when they are made).
 */
export function credentialSettings(r: StoreSettings['redis']): Record<'store.redis.username' | 'store.redis.password' | 'store.redis.sentinel.password', unknown> {
  return {
    'store.redis.username': r.username,
    'store.redis.password': r.cluster !== undefined ? r.password : r.password !== undefined || undefined,
    'store.redis.sentinel.password': r.sentinel?.password !== undefined || undefined,
  }
}

/**
 * Which TLS files and server name `store.redis.tls` names, and whether it is given: fixed once the
 * store is open. Not `keyPassphrase`: it belongs to the key file's contents (a key renewed encrypted
 * under a new passphrase, both from one Secret), which reload like the files' (renewedConnections).
 */
export function tlsLocation(r: StoreSettings['redis']): object | undefined {
  if (r.tls === undefined) return undefined
  const { keyPassphrase: _passphrase, ...location } = r.tls
  return location
}

/**
 * What `store.url` connects to, as the Redis client reads it: TLS or not, the host without case,
 * the port (6379 unwritten), the database (0 unwritten: `/`, `/0` or no path), the credentials
 * and `family` (0 unwritten). So spellings of one server compare equal; the text never leaves here.
 */
export function urlConnection(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return url // the load refused it already
  }
  const db = Number(u.pathname.slice(1) || 0)
  // One `family` at most: the load refuses it given twice (normalize-redis.ts).
  const family = Number(u.searchParams.getAll('family')[0] ?? 0)
  return JSON.stringify([u.protocol, u.hostname.toLowerCase(), Number(u.port || 6379), db, decodedUrlCredential(u.username), decodedUrlCredential(u.password), family])
}

/** What a reload renews for the open Redis store's next connections: its TLS files (read now) and passwords. */
export function renewedConnections(config: GatewayConfig): RenewedConnections {
  const { tls, password, sentinel } = redisStoreOptions(config)
  const sentinelPassword = sentinel?.sentinelPassword
  return Object.assign({}, tls && { tls }, password !== undefined && { password }, sentinelPassword !== undefined && { sentinelPassword })
}

/** `open`, telling a Redis store's connection warnings (memory policy, ACL) to `told`. */
export function withConnectWarnings(open: (c: StoreConfig) => Store, told: ((w: RedisConnectWarning) => void) | undefined): (c: StoreConfig) => Store {
  // At opening (not per request).
  return told ? (c) => open(c.kind === 'redis' ? { ...c, onConnectWarning: told } : c) : open
}
