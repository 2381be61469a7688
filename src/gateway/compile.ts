/**
 * Frozen config → Gateway: the runtime snapshot a request pins for its whole life.
 * Everything per-request code needs is computed here once (bundles, secure contexts,
 * pools, host index), so a reload is one reference swap.
 */
import { collectConfigProblems, matchName, type EndpointConfig, type GatewayConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import type { Bundle, InterceptionCa } from '../tls/index.js'
import { otlpTlsProblems } from '../tracing/index.js'
import { inspectEndpoints, inspectListeners, type EndpointReport, type Inspection, type ListenerTls } from './inspect.js'
import type { TlsFileDates } from './dated-tls-files.js'
import type { Upstream } from './upstream.js'
import { endpointUpstreams, type UpstreamHooks } from './endpoint-upstreams.js'
import { compileDestination, type EndpointDestination } from './destination.js'
import { compileFields, compileProfiles, type CompiledField, type Profile } from './profiles.js'
import { compileCallers, type Callers } from './callers.js'
import { compileSealers, type Sealers } from './sealers.js'
import { tokenUrlEndpointChecks } from './token-url-endpoints.js'

export interface Endpoint {
  readonly name: string
  readonly config: EndpointConfig
  /** Base URL without trailing slash; may contain `{tenant}`. */
  readonly url: string
  /** `url` parsed once (per tenant) and the path prefix, for building each request's target. */
  readonly destination: EndpointDestination
  readonly bundle: Bundle
  readonly upstream: Upstream
  readonly profile?: Profile
  /** Endpoint fields, then the profile's. */
  readonly fields: readonly CompiledField[]
  /** Requests must name a tenant (URL has `{tenant}` or the profile has tenancy on). */
  readonly tenancy: boolean
  /** Per-tenant bundle and pool; other tenants use `upstream`. */
  readonly tenantUpstreams: ReadonlyMap<string, { readonly bundle: Bundle; readonly upstream: Upstream }>
}

export interface Gateway {
  readonly config: GatewayConfig
  readonly endpoints: ReadonlyMap<string, Endpoint>
  /** `host:port` (port 443 when implicit) → endpoints serving it, for forward-proxy matching. */
  readonly byHost: ReadonlyMap<string, readonly Endpoint[]>
  readonly profiles: ReadonlyMap<string, Profile>
  readonly callers: Callers
  /** Sealers for stored user records and decrypted claims (keys are config, so a reload rotates them). */
  readonly sealers: Sealers
  /** The listeners' certificates as read for this snapshot: a reload hands them to the running servers. */
  readonly listenerTls: ListenerTls
  /** `interception`'s CA as read and checked for this snapshot: CONNECT mints with exactly this one. */
  readonly interception?: InterceptionCa
  /** The listeners' certificates and client CAs, OTLP and Redis TLS files: those outside their validity at compile time (warned of on adoption), and each one's end of validity (a metric). */
  readonly tlsFileDates: TlsFileDates
  /** Of this snapshot's upstream pools (each endpoint's and tenant bundle's), how many it kept from the snapshots before (CompileOptions.keptPools) and how many it built. */
  readonly pools: { readonly kept: number; readonly built: number }
  close(): Promise<void>
}

/** What `check` (and the console's draft validator) report: every bundle, the clock's verdict on them, the listeners' files. */
export function checkConfig(config: GatewayConfig, now = new Date()): { reports: EndpointReport[]; problems: ConfigProblem[] } {
  const parts = compileParts(config, now)
  // Expired or not-yet-valid bundles and TLS files only degrade what they serve in `serve`; `check` still fails on them.
  return { reports: parts.inspection.reports, problems: [...parts.problems, ...parts.inspection.degraded, ...parts.inspection.dated.problems] }
}

/** What would stop a start (or a reload) on this config, and the listeners' TLS it would serve: compileGateway's verdict without upstreams (the `--workers` primary's). */
export function startProblems(config: GatewayConfig, now?: Date): { problems: ConfigProblem[]; listenerTls: ListenerTls } {
  const parts = compileParts(config, now)
  return { problems: parts.problems, listenerTls: parts.listeners.tls }
}

/** Every check a start makes of a loaded config, each problem collected: `check`, the console's draft validator and a start or reload (compileGateway) read the same verdict. */
function compileParts(config: GatewayConfig, now?: Date) {
  const inspection = inspectEndpoints(config, now)
  const { profiles, problems: profileProblems } = compileProfiles(config.profiles, config.file)
  const listeners = inspectListeners(config)
  const problems = collectConfigProblems(config)
  problems.add([...inspection.problems, ...profileProblems, ...listeners.problems, ...otlpTlsProblems(config.tracing), ...tokenUrlEndpointChecks(config).problems])
  const callers = problems.collect(() => compileCallers(config))
  const sealers = callers === undefined ? undefined : problems.collect(() => compileSealers(config, callers.keys))
  return { inspection, profiles, listeners, callers, sealers, problems: problems.list }
}

export interface CompileOptions extends UpstreamHooks {
  now?: Date
}

/** Builds the runtime snapshot; throws ConfigError when a bundle has a problem that no clock fixes. */
export function compileGateway(config: GatewayConfig, options: CompileOptions = {}): Gateway {
  const { inspection, profiles, listeners, callers, sealers, problems } = compileParts(config, options.now)
  if (problems.length > 0 || callers === undefined || sealers === undefined) throw new ConfigError(problems)
  const endpoints = new Map<string, Endpoint>()
  const byHost = new Map<string, Endpoint[]>()
  const upstreams = (): Upstream[] => [...endpoints.values()].flatMap((e) => [e.upstream, ...[...e.tenantUpstreams.values()].map((t) => t.upstream)])
  const buildsBefore = options.keptPools?.builds
  try {
    for (const ep of config.endpoints) {
      const endpoint = compileEndpoint(ep, config, inspection, profiles, options)
      endpoints.set(ep.name, endpoint)
      for (const key of hostKeys(ep)) byHost.set(key, [...(byHost.get(key) ?? []), endpoint])
    }
  } catch (e) {
    // Kept pools count their holders: a compile that fails lets go of those it took.
    void Promise.allSettled(upstreams().map((u) => u.close()))
    throw e
  }
  // Longest pathPrefix first (stable: config order breaks ties), or an earlier endpoint without one takes a later one's paths.
  for (const list of byHost.values()) list.sort((x, y) => y.destination.prefix.length - x.destination.prefix.length)
  const { interception } = inspection
  return {
    config,
    endpoints,
    byHost,
    profiles,
    callers,
    sealers,
    listenerTls: listeners.tls,
    ...(interception ? { interception } : {}),
    tlsFileDates: inspection.dated,
    pools: poolCounts(upstreams().length, buildsBefore === undefined ? undefined : (options.keptPools?.builds ?? 0) - buildsBefore),
    close: async () => {
      await Promise.allSettled(upstreams().map((u) => u.close()))
    },
  }
}

/** `total` pools, `built` of them new (every one without a keeper). */
function poolCounts(total: number, built = total): Gateway['pools'] {
  return { kept: total - built, built }
}

/** One endpoint: its pool (and each tenant's), destination, profile and fields. */
function compileEndpoint(ep: EndpointConfig, config: GatewayConfig, inspection: Inspection, profiles: ReadonlyMap<string, Profile>, options: CompileOptions): Endpoint {
  const bundle = inspection.bundles.get(ep.name) as Bundle
  const profile = ep.profile ? profiles.get(ep.profile) : undefined
  const destination = compileDestination(ep.url, ep.pathPrefix)
  const fields = [...compileFields(ep.fields), ...(profile?.fields ?? [])]
  // The pools last: kept pools count their holders, so nothing may fail after they are taken.
  const { upstream, tenantUpstreams } = endpointUpstreams(ep, config.profiles, inspection, options)
  return {
    name: ep.name,
    config: ep,
    url: ep.url,
    destination,
    bundle,
    upstream,
    ...(profile ? { profile } : {}),
    fields,
    tenancy: ep.url.includes('{tenant}') || profile?.config.tenancy === true,
    tenantUpstreams,
  }
}

/** `host:port` keys a forward-proxy request may use to reach this endpoint. */
export function hostKeys(ep: EndpointConfig): string[] {
  if (ep.url.includes('{tenant}')) return []
  const u = new URL(ep.url)
  const keys = [`${matchName(u.hostname.toLowerCase())}:${u.port || '443'}`]
  for (const h of ep.hosts) keys.push(matchName(/:[0-9]+$/.test(h) ? h : `${h}:443`))
  return keys
}
