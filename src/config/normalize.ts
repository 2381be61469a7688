/**
 * Schema-valid raw config → GatewayConfig: defaults filled in one place, units parsed,
 * paths made absolute, and the cross-field rules a JSON Schema cannot say well.
 */
import { isIP } from 'node:net'
import { dirname } from 'node:path'
import { configPaths } from './config-path.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { parseDuration, parseSize } from './units.js'
import { WAYS_IN, type ConfigReference, type EndpointConfig, type GatewayConfig, type ProfileConfig, type WayIn } from './types.js'
import type { YamlSource } from './yaml-source.js'
import { canonicalHost, list, obj, str, type Raw, type Report } from './normalize-util.js'
import { normalizeFields, normalizeProfile } from './normalize-profiles.js'
import { checkFieldReferences } from './field-references.js'
import { checkTenantBundles, checkTenantFields, checkTenantReferences, normalizeEndpointUrl } from './tenant-references.js'
import { normalizeTracing } from './normalize-tracing.js'
import { bundleFiles, normalizeTls } from './normalize-tls.js'
import { normalizeBodyLimits, normalizeListenLimits, normalizeDrainAndLogging, upstreamKeepAliveMs } from './normalize-limits.js'
import { listenTlsFiles, normalizeAdmin, normalizeCallers, normalizeInterception, normalizeListenTls, normalizeStore } from './normalize-services.js'
import { checkCallerEndpoints, checkCallerTenants } from './normalize-caller-tenants.js'
import { tenantHeaderName } from './tenant-header.js'
import { pemPathGuard } from './pem-as-path.js'
import { checkViaCredentials, checkViaUrl } from './via-url.js'
import { checkPathPrefix } from './path-prefix.js'
import { checkPublicUrl } from './link-urls.js'
import { checkPathFields } from './path-placeholders.js'
import { checkHeaderFieldValues } from './header-fields.js'

interface NormalizeContext {
  file: string
  secrets: string[]
  references?: ConfigReference[]
  files: string[]
  source: YamlSource
}

/** Fills defaults and applies cross-field rules; throws ConfigError naming each problem. */
export function normalizeConfig(raw: unknown, ctx: NormalizeContext): GatewayConfig {
  const root = obj(raw)
  const problems: ConfigProblem[] = []
  const reportAt = (...prefix: (string | number)[]): Report => (path, msg) => void problems.push(ctx.source.problem([...prefix, ...path], msg))
  const { abs, report: reportPemPaths } = pemPathGuard(configPaths(dirname(ctx.file), ctx.references))
  const endpoints = (Array.isArray(root.endpoints) ? root.endpoints : []).map((e, i) => normalizeEndpoint(obj(e), i, abs, reportAt('endpoints', i)))
  const profiles = (Array.isArray(root.profiles) ? root.profiles : []).map((p, i) => normalizeProfile(obj(p), i, abs, reportAt('profiles', i)))
  checkReferences(endpoints, profiles, reportAt())
  const files = bundleAndKeyFiles(ctx, endpoints, profiles)
  const forwarding = obj(root.forwarding)
  const config: GatewayConfig = {
    file: ctx.file,
    files: [...files],
    secrets: [...new Set(ctx.secrets)],
    ...(ctx.references !== undefined ? { references: ctx.references } : {}),
    listen: normalizeListen(obj(root.listen), abs, reportAt('listen')),
    store: normalizeStore(obj(root.store), abs, reportAt('store')),
    callers: normalizeCallers(root.callers, reportAt('callers')),
    ...(root.interception ? { interception: normalizeInterception(obj(root.interception), abs, reportAt('interception')) } : {}),
    admin: normalizeAdmin(obj(root.admin), abs, reportAt('admin')),
    ...normalizeDrainAndLogging(obj(root.drain), obj(root.logging)),
    limits: normalizeBodyLimits(obj(root.limits), reportAt('limits')),
    forwarding: { xForwardedFor: (forwarding.xForwardedFor as boolean | undefined) ?? false, via: (forwarding.via as boolean | undefined) ?? true },
    endpoints,
    profiles,
    tracing: normalizeTracing(obj(root.tracing), abs, reportAt('tracing')),
  }
  checkCallerEndpoints(config.callers.apps, endpoints, reportAt('callers'))
  checkCallerTenants(config.callers.apps, endpoints, profiles, reportAt('callers'))
  reportPemPaths(root, ctx.references ?? [], reportAt())
  if (problems.length > 0) throw new ConfigError(problems)
  addServiceFiles(config, files)
  config.files = [...files]
  return config
}

/** Profiles name existing endpoints (and a per-user one has an endpoint), endpoints existing profiles; field and tenant references; unique endpoint names. */
function checkReferences(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  const profileNames = new Set(profiles.map((p) => p.name))
  for (const p of profiles) {
    if (p.endpoint !== undefined && !endpoints.some((e) => e.name === p.endpoint)) {
      report(['profiles', p.index, 'endpoint'], `no endpoint named "${p.endpoint}"`)
    } else if (p.endpoint === undefined && p.token.mode === 'per_user' && !endpoints.some((e) => e.profile === p.name)) {
      // The token URLs are called with an endpoint's client bundle; without one the dance cannot start.
      report(['profiles', p.index, 'name'], `no endpoint uses profile "${p.name}": name it in an endpoint's profile, or set profiles[].endpoint`)
    }
  }
  for (const e of endpoints) {
    if (e.profile !== undefined && !profileNames.has(e.profile)) {
      report(['endpoints', e.index, 'profile'], `no profile named "${e.profile}" (profiles: ${[...profileNames].join(', ') || 'none'})`)
    }
  }
  checkFieldReferences(endpoints, profiles, report)
  checkTenantReferences(endpoints, profiles, report)
  checkTenantFields(endpoints, profiles, report)
  checkTenantBundles(endpoints, profiles, report)
  checkPathFields(endpoints, profiles, report)
  checkHeaderFieldValues(endpoints, profiles, report)
  const names = new Map<string, number>()
  for (const e of endpoints) {
    const first = names.get(e.name)
    if (first !== undefined) report(['endpoints', e.index, 'name'], `duplicate endpoint name "${e.name}" (also endpoints[${first}])`)
    names.set(e.name, e.index)
  }
}

/** The files a reload watches before the services' own: the config's, its references', every bundle's and private key. */
function bundleAndKeyFiles(ctx: NormalizeContext, endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[]): Set<string> {
  const files = new Set([...ctx.files, ctx.file])
  for (const e of endpoints) for (const t of [e.tls, ...Object.values(e.tenants)]) for (const f of bundleFiles(t)) files.add(f)
  for (const p of profiles) if (p.privateKey) files.add(p.privateKey)
  return files
}

/** Adds the listeners', interception CA's, Redis store's and OTLP exporter's TLS files. */
function addServiceFiles(config: GatewayConfig, files: Set<string>): void {
  for (const f of [...listenTlsFiles(config.listen.tls), ...listenTlsFiles(config.admin.tls)]) files.add(f)
  if (config.interception) for (const f of [config.interception.caCert, config.interception.caKey]) files.add(f)
  // The Redis store's TLS files: a renewed client certificate reloads, and reaches new connections.
  if (config.store.kind === 'redis') for (const f of [config.store.redis.tls?.ca, config.store.redis.tls?.cert, config.store.redis.tls?.key]) if (f !== undefined) files.add(f)
  for (const f of Object.values(config.tracing.otlp?.tls ?? {})) files.add(f)
}

function normalizeListen(listen: Raw, abs: (p: string) => string, report: Report): GatewayConfig['listen'] {
  checkPublicUrl(str(listen.publicUrl), report)
  return {
    host: str(listen.host) ?? '0.0.0.0',
    port: (listen.port as number | undefined) ?? 8080,
    ...normalizeListenLimits(listen),
    waysIn: (listen.waysIn as WayIn[] | undefined) ?? [...WAYS_IN],
    ...(str(listen.publicUrl) ? { publicUrl: (str(listen.publicUrl) as string).replace(/\/+$/, '') } : {}),
    ...(listen.tls ? { tls: normalizeListenTls(obj(listen.tls), abs) } : {}),
  }
}

function checkEndpointUrl(url: string, report: Report): void {
  try {
    const parsed = new URL(url.replaceAll('{tenant}', 'tenant'))
    if (parsed.search || parsed.hash) report(['url'], 'must not carry a query or fragment')
    // Dropped when dialled, so a partner would see no credentials; and a URL is logged and shown.
    if (parsed.username || parsed.password) report(['url'], 'must not carry a user name or password (the gateway sends none from the URL): set credentials with a header field')
  } catch {
    report(['url'], `not a valid URL: ${url}`)
  }
}

function normalizeEndpoint(e: Raw, index: number, abs: (p: string) => string, report: Report): EndpointConfig {
  const url = normalizeEndpointUrl(str(e.url) ?? '')
  checkEndpointUrl(url, report)
  checkViaUrl(str(obj(e.via).url), report)
  checkViaCredentials(str(obj(e.via).username), str(obj(e.via).password), report)
  checkPathPrefix(str(e.pathPrefix), report)
  const resolveTo = str(e.resolve)
  if (resolveTo !== undefined && isIP(resolveTo) === 0) report(['resolve'], `must be an IPv4 or IPv6 address, got "${resolveTo}"`)
  const timeouts = obj(e.timeouts)
  const ms = (v: unknown, d: string): number => parseDuration((v as string | number | undefined) ?? d)
  return {
    name: str(e.name) ?? '',
    index,
    url: url.replace(/\/+$/, ''),
    hosts: list(e.hosts).map(canonicalHost),
    ...(str(e.pathPrefix) ? { pathPrefix: str(e.pathPrefix) as string } : {}),
    ...(resolveTo ? { resolve: resolveTo } : {}),
    allowPrivate: (e.allowPrivate as boolean | undefined) ?? false,
    tls: normalizeTls(obj(e.tls), abs, (p, m) => report(['tls', ...p], m)),
    timeouts: {
      connectMs: ms(timeouts.connect, '5s'),
      responseMs: ms(timeouts.response, '30s'),
      idleMs: ms(timeouts.idle, '30s'),
      keepAliveMs: upstreamKeepAliveMs(timeouts.keepAlive, (p, m) => report(['timeouts', ...p], m)),
    },
    connections: (e.connections as number | undefined) ?? 128, originPools: (e.originPools as number | undefined) ?? 256,
    ...(e.via ? { via: { url: str(obj(e.via).url) as string, ...(str(obj(e.via).username) !== undefined ? { username: str(obj(e.via).username) as string } : {}), ...(str(obj(e.via).password) !== undefined ? { password: str(obj(e.via).password) as string } : {}) } } : {}),
    ...(str(e.profile) !== undefined ? { profile: str(e.profile) as string } : {}),
    fields: normalizeFields(e.fields, (path, msg) => report(['fields', ...path], msg)),
    tenantHeader: tenantHeaderName(str(e.tenantHeader), report),
    tenants: Object.fromEntries(
      Object.entries(obj(e.tenants)).map(([tenant, t]) => [tenant, normalizeTls(obj(obj(t).tls), abs, (p, m) => report(['tenants', tenant, 'tls', ...p], m))]),
    ),
  }
}
