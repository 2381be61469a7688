/** `store` settings → the Redis store's options: TLS files read at start, and again on each reload (renewed contents reach new connections). */
import { readConfigFile, type GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import type { RedisStoreOptions } from '../store/index.js'

type StoreSettings = GatewayConfig['store']

function readPem(config: GatewayConfig, key: string, file: string): string {
  try {
    return readConfigFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error'
    throw new ConfigError([{ file: config.file, line: 0, column: 0, key: `store.redis.tls.${key}`, msg: `cannot read ${file}: ${code}` }])
  }
}

/** The Redis store's options from the validated config. */
export function redisStoreOptions(config: GatewayConfig): RedisStoreOptions {
  const s: StoreSettings = config.store
  const r = s.redis
  const t = r.tls
  const pem = (key: 'ca' | 'cert' | 'key'): { [k: string]: string } => (t?.[key] === undefined ? {} : { [key]: readPem(config, key, t[key]) })
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
      ? { tls: { ...pem('ca'), ...pem('cert'), ...pem('key'), ...(t.keyPassphrase !== undefined ? { passphrase: t.keyPassphrase } : {}), ...(t.serverName !== undefined ? { serverName: t.serverName } : {}) } }
      : {}),
    acknowledge: { replicas: r.replicasToAcknowledge, timeoutMs: r.acknowledgeTimeoutMs },
    commandTimeoutMs: r.commandTimeoutMs,
    connectTimeoutMs: r.connectTimeoutMs,
  }
}
