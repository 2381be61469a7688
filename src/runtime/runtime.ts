/**
 * What a gateway process builds once at start and keeps across reloads: the store
 * connection, the one observer (metrics and log hooks) and the budget of buffered bodies. Everything a reload may change
 * (endpoints, callers, sealers, TTLs) is in the config snapshot, read where it is used.
 * A reload goes through prepare() exactly as the start did, so it is accepted when a fresh
 * start with the same file would be, and then opens what that start would have opened.
 */
import { configProblem, needsStore, type GatewayConfig, type StoreSettings } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import type { BearerStores } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import { redisStoreOptions, renewedConnections, withConnectWarnings } from './redis-options.js'
import { adoptConfig, restartOnlyChanges, type RestartBaseline } from './restart-only.js'
import { openStore, RedisSettingError, SqliteDriverError, type Store, type StoreConfig } from '../store/index.js'
import type { Observer } from './observer.js'
import { createBufferedBodies, type BufferedBodies } from './buffered-bodies.js'

export interface RuntimeOptions {
  /** The config the process started with: its listeners and tracer are fixed for life. */
  start: GatewayConfig
  /**
   * The settings the instance's store was opened with, when it was before this process started
   * (a `--workers` replacement): the store opens at once, and its location is fixed as in the
   * workers that opened it. Absent: it opens with the first config that needs it.
   */
  storeOpenedWith?: StoreSettings | undefined
  observer?: Observer
  /** Opens the store (tests count openings); default store/openStore. */
  open?: (config: StoreConfig) => Store
}

/** The process-lifetime half of a running gateway; the snapshot is the other half. */
export interface Runtime {
  readonly observer: Observer
  /** The store, once a snapshot needed one (caller apps or per-user tokens). */
  readonly store: Store | undefined
  /** Request bodies held whole in memory, across reloads (limits.maxBufferedTotal). */
  readonly bufferedBodies: BufferedBodies
  /** What restart-only keys are judged against (the start, and the store's settings once it is open). */
  readonly baseline: RestartBaseline
  /** Refuses a config that changes restart-only settings, then opens the store it needs; throws ConfigError. */
  prepare(config: GatewayConfig): void
  /** Where the snapshot's caller bearers live; undefined when it has no caller apps. */
  bearerStores(gateway: Gateway): BearerStores | undefined
  close(): Promise<void>
}

/** How `config`'s store is opened. */
export function storeConfigOf(c: GatewayConfig): StoreConfig {
  return c.store.kind === 'redis' ? { kind: 'redis', ...redisStoreOptions(c) } : { kind: 'sqlite', file: c.store.file }
}

/**
 * For a process that judges configs without serving them (the --workers primary): why opening
 * `config`'s store would fail, as the workers' prepare() finds when this config opens their
 * store; none when it opens. The store is opened and closed at once.
 */
export function storeOpenProblems(config: GatewayConfig, open: (c: StoreConfig) => Store = openStore): ConfigProblem[] {
  try {
    const store = openStoreOf(config, open)
    void store.close().catch(() => undefined)
    return []
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems]
    return [configProblem(config, 'store', e instanceof Error ? e.message : String(e))]
  }
}

/** The config key of each Redis setting the store can refuse (RedisSettingError). */
const REDIS_SETTING_KEYS: Record<RedisSettingError['setting'], string> = { url: 'store.url' }

/** Opens `config`'s store; refuses in check's words at the key to blame: a SQLite file it cannot open at `store.file` (a driver that cannot load is no key's fault), a Redis setting at its own (`store.url`). */
function openStoreOf(config: GatewayConfig, open: (c: StoreConfig) => Store): Store {
  const settings = storeConfigOf(config)
  try {
    return open(settings)
  } catch (e) {
    const key = e instanceof RedisSettingError ? REDIS_SETTING_KEYS[e.setting] : settings.kind === 'sqlite' && !(e instanceof SqliteDriverError) ? 'store.file' : undefined
    if (key === undefined || e instanceof ConfigError) throw e
    throw new ConfigError([configProblem(config, key, e instanceof Error ? e.message : String(e))])
  }
}

/** Builds the runtime; call prepare() with the start config before serving. */
export function createRuntime(o: RuntimeOptions): Runtime {
  const open = o.open ?? openStore
  const warnedOpen = withConnectWarnings(open, o.observer?.onStoreWarning)
  let store: Store | undefined
  let baseline: RestartBaseline = { start: o.start, ...(o.storeOpenedWith ? { store: o.storeOpenedWith } : {}) }
  const bufferedBodies = createBufferedBodies()
  return {
    observer: o.observer ?? {},
    bufferedBodies,
    get store() {
      return store
    },
    get baseline() {
      return baseline
    },
    prepare(config) {
      const changed = restartOnlyChanges(baseline, config)
      if (changed.length > 0) throw new ConfigError(changed)
      const next = adoptConfig(baseline, config)
      // Opened at the location `config` names: the baseline's, when it already had one (checked above).
      if (!store && next.store) {
        store = openStoreOf(config, warnedOpen)
        baseline = next
      }
      // Renewed Redis TLS files (watched like the rest) and passwords (a rotation): the next
      // connections use them, as a fresh start would; the files are read here, so an unreadable
      // one fails the reload.
      else if (store?.renewConnections && config.store.kind === 'redis') store.renewConnections(renewedConnections(config))
    },
    bearerStores(gateway) {
      if (!gateway.callers.enabled || !store) return undefined
      const { records, claims } = gateway.sealers
      const onResealed = o.observer?.onRecordResealed
      return { store, ...(records ? { sealer: records } : {}), ...(claims ? { claimsSealer: claims } : {}), ...(onResealed ? { onResealed } : {}) }
    },
    async close() {
      await store?.close()
    },
  }
}

/** Creates the SQLite file and its schema once, before workers start, so they never race to. */
export async function createStoreFile(config: GatewayConfig): Promise<void> {
  if (config.store.kind === 'sqlite' && needsStore(config)) await openStoreOf(config, openStore).close()
}
