/**
 * What a gateway process builds once at start and keeps across reloads: the store
 * connection, the one observer (metrics and log hooks) and the budget of buffered bodies. Everything a reload may change
 * (endpoints, callers, sealers, TTLs) is in the config snapshot, read where it is used.
 * A reload goes through prepare() exactly as the start did, so it is accepted when a fresh
 * start with the same file would be, and then opens what that start would have opened.
 */
import type { GatewayConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import type { BearerStores } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import { redisStoreOptions } from './redis-options.js'
import { openStore, type Store, type StoreConfig } from '../store/index.js'
import type { Observer } from './observer.js'
import { createBufferedBodies, type BufferedBodies } from './buffered-bodies.js'

export interface RuntimeOptions {
  /** The config the process started with: its listeners and store location are fixed for life. */
  start: GatewayConfig
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
  /** Refuses a config that changes restart-only settings, then opens the store it needs; throws ConfigError. */
  prepare(config: GatewayConfig): void
  /** Where the snapshot's caller bearers live; undefined when it has no caller apps. */
  bearerStores(gateway: Gateway): BearerStores | undefined
  close(): Promise<void>
}

/** True when the config keeps anything in the store. */
export function needsStore(config: GatewayConfig): boolean {
  return config.callers.enabled || config.profiles.some((p) => p.token.mode === 'per_user')
}

// What a running process cannot change: its sockets, the store it writes to, its tracer.
const RESTART_ONLY: Record<string, (c: GatewayConfig) => unknown> = {
  // The listeners' sockets and the limits their guards were built with. The console token
  // is read per request, so a reload may change it (which ends every console session).
  listen: (c) => c.listen,
  admin: ({ admin: { token: _token, ...sockets } }) => sockets,
  'store.kind': (c) => c.store.kind,
  'store.file': (c) => (c.store.kind === 'sqlite' ? c.store.file : undefined),
  'store.url': (c) => (c.store.kind === 'redis' ? c.store.url : undefined),
  'store.keyPrefix': (c) => (c.store.kind === 'redis' ? c.store.keyPrefix : undefined),
  // Topology, which TLS files and durability of the Redis connection are fixed at start (the
  // files' renewed contents reach new connections on reload: prepare). Whether Redis gates
  // readiness is read at each probe, so it reloads. On reload (not per request).
  'store.redis': (c) => (c.store.kind === 'redis' && c.store.redis ? { ...c.store.redis, gateReadiness: undefined } : undefined),
  // The tracer provider and exporter are built once at start (the exporter's renewed TLS files
  // apply on reload); the sampler is read per decision and reloads.
  'tracing.enabled': (c) => c.tracing.enabled,
  'tracing.serviceName': (c) => c.tracing.serviceName,
  'tracing.otlp': (c) => c.tracing.otlp,
}

/** The restart-only settings `next` changes relative to `start`, as config problems. */
export function restartOnlyChanges(start: GatewayConfig, next: GatewayConfig): ConfigProblem[] {
  return Object.entries(RESTART_ONLY)
    .filter(([, pick]) => JSON.stringify(pick(start)) !== JSON.stringify(pick(next)))
    .map(([key]) => ({ file: next.file, line: 0, column: 0, key, msg: 'changed, and takes effect only after a restart; the running gateway keeps its last good config' }))
}

/** Builds the runtime; call prepare() with the start config before serving. */
export function createRuntime(o: RuntimeOptions): Runtime {
  const open = o.open ?? openStore
  let store: Store | undefined
  const storeConfig = (c: GatewayConfig): StoreConfig =>
    c.store.kind === 'redis' ? { kind: 'redis', ...redisStoreOptions(c) } : { kind: 'sqlite', file: c.store.file }
  const bufferedBodies = createBufferedBodies()
  return {
    observer: o.observer ?? {},
    bufferedBodies,
    get store() {
      return store
    },
    prepare(config) {
      const changed = restartOnlyChanges(o.start, config)
      if (changed.length > 0) throw new ConfigError(changed)
      if (!store && needsStore(config)) store = open(storeConfig(config))
      // Renewed Redis TLS files (watched like the rest): the next connections use them, as a
      // fresh start would; the files are read here, so an unreadable one fails the reload.
      else if (store?.renewTls && config.store.kind === 'redis' && config.store.redis.tls) {
        const { tls } = redisStoreOptions(config)
        if (tls) store.renewTls(tls)
      }
    },
    bearerStores(gateway) {
      if (!gateway.callers.enabled || !store) return undefined
      const { records, claims } = gateway.sealers
      return { store, ...(records ? { sealer: records } : {}), ...(claims ? { claimsSealer: claims } : {}) }
    },
    async close() {
      await store?.close()
    },
  }
}

/** Creates the SQLite file and its schema once, before workers start, so they never race to. */
export async function createStoreFile(config: GatewayConfig): Promise<void> {
  if (config.store.kind === 'sqlite' && needsStore(config)) await openStore({ kind: 'sqlite', file: config.store.file }).close()
}
