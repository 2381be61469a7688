/**
 * Long-lived services built from the config: the store, the sealer, caller apps and the
 * gateway's JWE keys. Created once at start (the store survives reloads: it holds
 * connections and state, not config).
 */
import type { GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import { redisStoreOptions } from './redis-options.js'
export { redisStoreOptions } from './redis-options.js'
import { createSealer, MemoryStore, openStore, parseSealKey, type Sealer, type Store } from '../store/index.js'

export interface Services {
  /** The persistent store, when the config needs one (callers or per-user tokens). */
  readonly store?: Store
  /** Never persisted: anonymous users' data, JWE claims. */
  readonly ephemeral: Store
  readonly sealer?: Sealer
  close(): Promise<void>
}

/** True when the config stores anything (so a store must be opened). */
export function needsStore(config: GatewayConfig): boolean {
  return config.callers.enabled || config.profiles.some((p) => p.token.mode === 'per_user')
}

/** Opens the store and sealer the config asks for; throws ConfigError on bad seal keys. */
export function createServices(config: GatewayConfig): Services {
  const sealer = createConfiguredSealer(config)
  if (config.profiles.some((p) => p.token.mode === 'per_user') && !sealer) {
    throw new ConfigError([{ file: config.file, line: 0, column: 0, key: 'store.sealKeys', msg: 'is required when per-user OAuth tokens are stored (token secrets are encrypted at rest)' }])
  }
  const s = config.store
  const store = needsStore(config)
    ? openStore(s.kind === 'redis' ? { kind: 'redis', ...redisStoreOptions(config) } : { kind: 'sqlite', file: s.file })
    : undefined
  const ephemeral = new MemoryStore()
  return {
    ...(store ? { store } : {}),
    ephemeral,
    ...(sealer ? { sealer } : {}),
    close: async () => {
      await Promise.allSettled([store?.close(), ephemeral.close()])
    },
  }
}

function createConfiguredSealer(config: GatewayConfig): Sealer | undefined {
  const keys = config.store.sealKeys
  if (keys.length === 0) return undefined
  try {
    const parsed = keys.map((k) => ({ id: k.id, key: parseSealKey(k.key) }))
    return createSealer(parsed, config.store.activeKey ?? (keys[keys.length - 1] as { id: string }).id)
  } catch (e) {
    throw new ConfigError([{ file: config.file, line: 0, column: 0, key: 'store.sealKeys', msg: (e as Error).message }])
  }
}

