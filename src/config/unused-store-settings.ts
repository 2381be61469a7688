/**
 * Store settings the configured `store.kind` never reads: with SQLite, `url`, `keyPrefix` and
 * `redis`; with Redis, `file`. They are still judged (a bad one is a config error whatever the kind:
 * normalize-redis.ts), but otherwise nothing said they do nothing, so a `url` written with the kind
 * left at its default `sqlite` looked like a Redis store. Warned, never refused (a file kept ready
 * for switching kinds is fine), by `check` and at each start and accepted reload, at each key written.
 */
import type { ConfigProblem } from '../errors.js'
import { configProblem, writtenConfig } from './placed-problems.js'
import type { GatewayConfig } from './types.js'

type StoreKind = GatewayConfig['store']['kind']

/** The keys under `store` only the other kind reads. */
const OTHER_KINDS_KEYS: Readonly<Record<StoreKind, readonly string[]>> = {
  sqlite: ['url', 'keyPrefix', 'redis'],
  redis: ['file'],
}

/** One warning per key under `store` that `config`'s file writes and its store kind does not read, placed at the key. */
export function unusedStoreSettingWarnings(config: GatewayConfig): ConfigProblem[] {
  const written = (writtenConfig(config) as { store?: unknown } | undefined)?.store
  if (written === null || typeof written !== 'object') return []
  const kind = config.store.kind
  const other = kind === 'sqlite' ? 'redis' : 'sqlite'
  return OTHER_KINDS_KEYS[kind]
    .filter((key) => key in written)
    .map((key) => configProblem(config, `store.${key}`, `unused: store.kind is ${kind}, and only kind ${other} reads store.${key}; remove it, or set store.kind: ${other} if a ${other === 'redis' ? 'Redis' : 'SQLite'} store was meant`))
}
