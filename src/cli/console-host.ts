/**
 * The console's host in each process shape: the single process lends its live snapshot
 * and runtime; the cluster primary (which serves admin but no traffic) lends the configs it
 * accepts and the runtime that opens the store when its workers do (serve-primary.ts), and
 * compiles a snapshot only while a page needs one. Either way console sessions live in the
 * configured store, shared by every worker and replica. Imported by console-loader.ts only
 * when the console is used.
 */
import type { GatewayConfig, StoreSettings } from '../config/index.js'
import { createConsole, type ConsoleHost } from '../console/index.js'
import { compileGateway, compileSealers } from '../gateway/index.js'
import { GatewayError } from '../errors.js'
import type { AdminFacts, AdminRoutes } from '../ops/index.js'
import type { GatewayRef } from '../proxy/listener.js'
import { redisStoreOptions, renewedConnections, storeLocationChanges, type Runtime } from '../runtime/index.js'
import { openStore, type Sealer, type Store } from '../store/index.js'

/** The console over a running single-process gateway. */
export function singleProcessConsole(facts: AdminFacts, ref: GatewayRef, runtime: Runtime): AdminRoutes {
  return withSessionStore(runtime, () => ({ config: ref.current.config, sealer: ref.current.sealers.records }), facts, (sessionState) => ({
    configFile: ref.current.config.file,
    facts,
    config: () => ref.current.config,
    restartBaseline: () => runtime.baseline,
    withGateway: (fn) => fn(ref.current),
    sessionState,
  }))
}

/** The configs a cluster primary accepts, and the runtime that opens the store when its workers do. */
export interface PrimaryFollower {
  current(): GatewayConfig
  readonly runtime: Runtime
}

/** The console in a cluster primary; the store it opens lives as long as the process. */
export function primaryConsole(facts: AdminFacts, follower: PrimaryFollower): AdminRoutes {
  const { current, runtime } = follower
  return withSessionStore(runtime, () => ({ config: current(), sealer: recordsSealer(current()) }), facts, (sessionState) => ({
    configFile: current().file,
    facts,
    config: current,
    restartBaseline: () => runtime.baseline,
    withGateway: async (fn) => {
      const gateway = compileGateway(current())
      try {
        return await fn(gateway)
      } finally {
        await gateway.close()
      }
    },
    sessionState,
  }))
}

/**
 * The store the console opens itself while the runtime has none, following the config in force as
 * a fresh start with that file would: a reload that names another location closes it (console
 * sessions end: their key is in the old store) and the next use opens the new one; one that renews
 * its Redis TLS files or passwords reaches its next connections, as prepare() renews the runtime's.
 */
function consoleOwnStore(): { storeFor(config: GatewayConfig): Store; readonly store: Store | undefined; close(): void } {
  let own: { store: Store; settings: StoreSettings; config: GatewayConfig } | undefined
  const close = (): void => {
    void own?.store.close().catch(() => undefined)
    own = undefined
  }
  return {
    storeFor(config) {
      if (own && storeLocationChanges(own.settings, config.store).length > 0) close()
      if (own && own.config !== config) {
        renewOwn(own.store, config)
        own.config = config
      }
      try {
        own ??= { store: openStore(config.store.kind === 'redis' ? { kind: 'redis', ...redisStoreOptions(config) } : { kind: 'sqlite', file: config.store.file }), settings: config.store, config }
      } catch (e) {
        throw e instanceof GatewayError ? e : new GatewayError('store_unavailable', `the console's sessions need the store, which could not be opened: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
      }
      return own.store
    },
    get store() {
      return own?.store
    },
    close,
  }
}

/** `config`'s Redis TLS files (read now, once per accepted config) and passwords for `store`'s next connections. */
function renewOwn(store: Store, config: GatewayConfig): void {
  try {
    if (config.store.kind === 'redis') store.renewConnections?.(renewedConnections(config))
  } catch {
    // Files that cannot work (a key of another certificate): the last good ones stay, as a refused reload keeps them.
  }
}

/**
 * The console on the runtime's store, or, while the config keeps nothing else in a store,
 * on one it opens itself (consoleOwnStore, same location) at first use and closes with the admin
 * listener. Once the runtime opens its store, the console uses that one and closes its own.
 */
function withSessionStore(
  runtime: Pick<Runtime, 'store'>,
  snapshot: () => { config: GatewayConfig; sealer: Sealer | undefined },
  facts: Pick<AdminFacts, 'recordResealed'>,
  host: (sessionState: ConsoleHost['sessionState']) => Omit<ConsoleHost, 'runtime'>,
): AdminRoutes {
  const own = consoleOwnStore()
  const storeFor = (config: GatewayConfig): Store => {
    if (!runtime.store) return own.storeFor(config)
    own.close()
    return runtime.store
  }
  const routes = createConsole({
    ...host(() => {
      const { config, sealer } = snapshot()
      return { store: storeFor(config), sealer, sealKeyIds: config.store.sealKeys.map((k) => k.id), onCarried: () => facts.recordResealed('console_session_key') }
    }),
    // The overview reports the store the console depends on, its own included.
    runtime: {
      get store() {
        return runtime.store ?? own.store
      },
    },
  })
  return {
    ...routes,
    close: () => {
      routes.close?.()
      own.close()
    },
  }
}

// Seal keys are parsed once per loaded config, not per request.
const sealers = new WeakMap<GatewayConfig, { records?: Sealer | undefined }>()

/** store.sealKeys' sealer for a config the primary loaded (it compiles no live snapshot). */
function recordsSealer(config: GatewayConfig): Sealer | undefined {
  let s = sealers.get(config)
  if (!s) {
    // The JWE-derived claims sealer is not needed here: no JWE keys.
    s = { records: compileSealers(config, new Map()).records }
    sealers.set(config, s)
  }
  return s.records
}
