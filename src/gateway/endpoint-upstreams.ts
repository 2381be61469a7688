/**
 * An endpoint's upstream pools in a snapshot: its own bundle's and each tenant bundle's, each
 * built from the endpoint's settings, the bundle and the compile's hooks, or the process's kept
 * pool of the same key (kept-pools.ts).
 */
import type { SecureContext } from 'node:tls'
import type { EndpointConfig, EndpointTlsConfig, ProfileConfig } from '../config/index.js'
import { bundleValidity, type Bundle } from '../tls/index.js'
import { createUpstream, type ConnectInfo, type Upstream } from './upstream.js'
import { endpointDialUrls, endpointDials, type EndpointDialUrls } from './endpoint-authority.js'
import { poolKey, type KeptPools } from './kept-pools.js'
import { createEgressLookup, type EgressOptions, type EgressReason, type Resolve } from './egress.js'

/** What a compile gives every pool it builds (the same for every compile sharing `keptPools`). */
export interface UpstreamHooks {
  /** DNS resolution for upstream dials (default dns.lookup; tests inject misbehaving resolvers). */
  resolve?: Resolve
  onConnect?: (info: ConnectInfo) => void
  onEgressRefusal?: (reason: EgressReason) => void
  /** A pool closed to make room for another origin of the endpoint (endpoints[].originPools). */
  onPoolEvicted?: (endpoint: string) => void
  /** The process's pools across its snapshots: a pool nothing about changed is kept (kept-pools.ts); absent, every pool is new. The hooks above must be the same for every compile that shares it. */
  keptPools?: KeptPools
}

/** The bundles and secure contexts inspection read, by endpoint name and `endpoint@tenant`. */
interface ReadBundles {
  bundles: ReadonlyMap<string, Bundle>
  contexts: ReadonlyMap<string, SecureContext>
}

/** The endpoint's pools; if one fails to build, those taken before it are let go of (kept pools count their holders). */
export function endpointUpstreams(ep: EndpointConfig, profiles: readonly ProfileConfig[], { bundles, contexts }: ReadBundles, hooks: UpstreamHooks): { upstream: Upstream; tenantUpstreams: Map<string, { bundle: Bundle; upstream: Upstream }> } {
  const dials = endpointDialUrls(ep, profiles)
  const tenantUpstreams = new Map<string, { bundle: Bundle; upstream: Upstream }>()
  const upstream = buildUpstream(ep, ep.tls, bundles.get(ep.name) as Bundle, contexts.get(ep.name), hooks, dials)
  try {
    for (const [tenant, tls] of Object.entries(ep.tenants)) {
      const bundle = bundles.get(`${ep.name}@${tenant}`) as Bundle
      tenantUpstreams.set(tenant, { bundle, upstream: buildUpstream(ep, tls, bundle, contexts.get(`${ep.name}@${tenant}`), hooks, dials, tenant) })
    }
  } catch (e) {
    void Promise.allSettled([upstream, ...[...tenantUpstreams.values()].map((t) => t.upstream)].map((u) => u.close()))
    throw e
  }
  return { upstream, tenantUpstreams }
}

/** One pool per (endpoint, bundle): sessions and connections never cross bundles. The process's kept pool of the same key when there is one. */
function buildUpstream(ep: EndpointConfig, tls: EndpointTlsConfig, bundle: Bundle, context: SecureContext | undefined, hooks: UpstreamHooks, dials: EndpointDialUrls, tenant?: string): Upstream {
  if (!context) throw new TypeError(`no secure context for endpoint ${ep.name}: inspection found no usable bundle`)
  const build = (): Upstream => newUpstream(ep, tls, bundle, context, hooks, dials, tenant)
  return hooks.keptPools ? hooks.keptPools.take(poolKey(ep, tls, bundle, dials, tenant), build) : build()
}

/** A new pool for (endpoint, bundle) from exactly the inputs poolKey digests (and the compile's hooks). */
function newUpstream(ep: EndpointConfig, tls: EndpointTlsConfig, bundle: Bundle, context: SecureContext, hooks: UpstreamHooks, dials: EndpointDialUrls, tenant?: string): Upstream {
  const egress: EgressOptions = {
    allowPrivate: ep.allowPrivate,
    ...(hooks.resolve ? { resolve: hooks.resolve } : {}),
    ...(hooks.onEgressRefusal ? { onRefusal: hooks.onEgressRefusal } : {}),
  }
  return createUpstream({
    endpoint: ep.name,
    ...(tenant !== undefined ? { tenant } : {}),
    context,
    validity: bundleValidity(bundle, tls),
    ...(tls.serverName ? { serverName: tls.serverName } : {}),
    ...(ep.resolve ? { resolve: ep.resolve } : {}),
    lookup: createEgressLookup(egress),
    ...endpointDials(dials),
    egress,
    ...(ep.via ? { via: ep.via } : {}),
    ...(hooks.onConnect ? { onConnect: hooks.onConnect } : {}),
    pins: tls.pins,
    ...(tls.systemRoots ? {} : { roots: bundle.roots }),
    connectMs: ep.timeouts.connectMs,
    responseMs: ep.timeouts.responseMs,
    idleMs: ep.timeouts.idleMs,
    keepAliveMs: ep.timeouts.keepAliveMs,
    connections: ep.connections,
    originPools: ep.originPools,
    ...(hooks.onPoolEvicted ? { onPoolEvicted: () => hooks.onPoolEvicted?.(ep.name) } : {}),
  })
}
