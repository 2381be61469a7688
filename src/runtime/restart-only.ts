/**
 * The settings a running process keeps until a restart (its sockets, its tracer, where its store
 * is), and how a new config is judged against them: each changed key named, as the file writes it.
 */
import { configProblem, needsStore, type GatewayConfig, type StoreSettings } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { credentialSettings, tlsLocation, urlConnection, withoutReloadable } from './redis-options.js'

// What a running process cannot change: its sockets and its tracer, fixed at start.
const RESTART_ONLY: Record<string, (c: GatewayConfig) => unknown> = {
  // The listeners' sockets and the limits their guards were built with. Read per request, so
  // a reload may change them: listen.publicUrl (the dance's links), listen.waysIn, the console token (which
  // ends every console session), its certificate allow-list (admin.tls.clientSubjects/Sans), the host
  // names the admin listener answers for (admin.allowedHosts) and the origins the console is published
  // at (admin.consoleOrigins). A key's passphrase reloads with the key (one Secret): renewServerTls.
  listen: ({ listen: { publicUrl: _publicUrl, waysIn: _waysIn, tls, ...sockets } }) => Object.assign({}, sockets, { tls: tls && listenerFiles(tls) }),
  admin: ({ admin: { token: _token, allowedHosts: _hosts, consoleOrigins: _origins, tls, ...sockets } }) => Object.assign({}, sockets, { tls: tls && listenerFiles(tls) }),
  // The tracer provider and exporter are built once at start (the exporter's renewed TLS files
  // apply on reload); the sampler is read per decision and reloads.
  'tracing.enabled': (c) => c.tracing.enabled,
  'tracing.serviceName': (c) => c.tracing.serviceName,
  'tracing.otlp': (c) => c.tracing.otlp,
}

// The store the process writes to, fixed once it is open (not at start: see RestartBaseline).
const STORE_RESTART_ONLY: Record<string, (s: StoreSettings) => unknown> = {
  'store.kind': (s) => s.kind,
  'store.file': (s) => (s.kind === 'sqlite' ? s.file : undefined),
  // What the URL connects to, not its text: `redis://h:6379/0` and `redis://h` are one server.
  'store.url': (s) => (s.kind === 'redis' && s.url !== undefined ? urlConnection(s.url) : undefined),
  'store.keyPrefix': (s) => (s.kind === 'redis' ? s.keyPrefix : undefined),
  // Topology and durability of the Redis connection are fixed at opening; gateReadiness reloads, and so
  // do passwords but a Cluster's (credentialSettings, each key named). On reload (not per request).
  'store.redis': (s) => (s.kind === 'redis' && s.redis ? withoutReloadable(s.redis) : undefined),
  ...Object.fromEntries((['store.redis.username', 'store.redis.password', 'store.redis.sentinel.password'] as const).map((k) => [k, (s: StoreSettings) => (s.kind === 'redis' && s.redis ? credentialSettings(s.redis)[k] : undefined)])),
  // Which TLS files, named apart so a refusal says so (renewed contents and key passphrase reload: prepare).
  'store.redis.tls': (s) => (s.kind === 'redis' && s.redis ? tlsLocation(s.redis) : undefined),
}

/**
 * What a config's restart-only keys are judged against: the start config for the listeners,
 * the admin listener and the tracer (built at start), and for the store's location the settings
 * the store was opened with, by the first config that needed one (caller apps or a per_user
 * profile). While no store is open, nothing is at the old location and a fresh start with the
 * new file would open the new one: the store may move freely until then.
 */
export interface RestartBaseline {
  readonly start: GatewayConfig
  /** The store settings the store was opened with; absent while no accepted config needed one. */
  readonly store?: StoreSettings | undefined
}

/** The baseline of an instance that started with `start` (its store opens now if `start` needs one). */
export function restartBaseline(start: GatewayConfig): RestartBaseline {
  return adoptConfig({ start }, start)
}

/** The baseline once `config` is accepted: the first accepted config that needs a store opens it. */
export function adoptConfig(baseline: RestartBaseline, config: GatewayConfig): RestartBaseline {
  return baseline.store !== undefined || !needsStore(config) ? baseline : { start: baseline.start, store: config.store }
}

/** The store keys (`store.file`…) whose settings differ between `a` and `b`: another store location. */
export function storeLocationChanges(a: StoreSettings, b: StoreSettings): string[] {
  return changedKeys(STORE_RESTART_ONLY, a, b)
}

function changedKeys<T>(picks: Record<string, (v: T) => unknown>, a: T, b: T): string[] {
  return Object.entries(picks).flatMap(([key, pick]) => changedPaths(key, pick(a), pick(b)))
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The key paths under `key` whose values differ, down to the keys the file writes
 * (`listen.port`, `listen.timeouts.headers`, `store.redis.sentinel.primaryName`): one per change.
 * A mapping added or removed, a list or a value is named whole. Durations are held as `…Ms`,
 * written without it.
 */
function changedPaths(key: string, a: unknown, b: unknown): string[] {
  if (!isMapping(a) || !isMapping(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : [key]
  const names = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...names].flatMap((name) => changedPaths(`${key}.${name.replace(/Ms$/, '')}`, a[name], b[name]))
}

/** A listener's tls without the console's allow-list (read per request) and the key's passphrase (reloads with the key). */
const listenerFiles = ({ clientSubjects: _subjects, clientSans: _sans, keyPassphrase: _passphrase, ...files }: Partial<NonNullable<GatewayConfig['admin']['tls']>>): object => files

/** The restart-only settings `next` changes relative to `baseline`, as config problems. */
export function restartOnlyChanges(baseline: RestartBaseline, next: GatewayConfig): ConfigProblem[] {
  const keys = [...changedKeys(RESTART_ONLY, baseline.start, next), ...(baseline.store ? storeLocationChanges(baseline.store, next.store) : [])]
  return keys.map((key) => configProblem(next, key, 'changed, and takes effect only after a restart; the running gateway keeps its last good config'))
}
