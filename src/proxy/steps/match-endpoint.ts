/**
 * route: which configured endpoint this request is for, and for which tenant. Forward and
 * CONNECT modes match host:port (+ optional path prefix); route mode names the endpoint.
 * No match → 403: the gateway is never an open proxy.
 */
import { GatewayError } from '../../errors.js'
import type { Endpoint } from '../../gateway/index.js'
import type { Context, Routed } from '../pipeline.js'

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** Picks the endpoint, tenant, pool and upstream URL; throws endpoint_not_configured / tenant_invalid. */
export function matchEndpoint(ctx: Context): Routed {
  const endpoint = ctx.route ? byName(ctx, ctx.route.endpoint) : byHost(ctx)
  const tenant = tenantOf(ctx, endpoint)
  const base = tenant === undefined ? endpoint.url : endpoint.url.replaceAll('{tenant}', tenant)
  if (ctx.route) ctx.outbound.url = new URL(base + ctx.route.path)
  else ctx.outbound.url = new URL(ctx.inbound.target.pathname + ctx.inbound.target.search, new URL(base).origin)
  if (ctx.outbound.headers[endpoint.config.tenantHeader] !== undefined) delete ctx.outbound.headers[endpoint.config.tenantHeader]
  if (tenant !== undefined) ctx.facts.tenant = tenant
  const own = tenant === undefined ? undefined : endpoint.tenantUpstreams.get(tenant)
  return { ...ctx, endpoint, upstream: own?.upstream ?? endpoint.upstream, ...(tenant !== undefined ? { tenant } : {}) }
}

function byName(ctx: Context, name: string): Endpoint {
  const endpoint = ctx.gateway.endpoints.get(name)
  if (!endpoint) throw new GatewayError('endpoint_not_configured', `endpoint "${name}" is not configured`)
  return endpoint
}

function byHost(ctx: Context): Endpoint {
  const target = ctx.inbound.target
  const key = `${target.hostname.toLowerCase()}:${target.port || '443'}`
  const path = target.pathname
  const endpoint = (ctx.gateway.byHost.get(key) ?? []).find(
    (e) => !e.config.pathPrefix || path === e.config.pathPrefix || path.startsWith(e.config.pathPrefix.replace(/\/?$/, '/')),
  )
  if (!endpoint) throw new GatewayError('endpoint_not_configured', `host ${target.host} is not configured on this gateway`)
  return endpoint
}

/** The tenant from the route (`/proxy/<ep>@<tenant>/`) or the tenant header; validated as a DNS label. */
function tenantOf(ctx: Context, endpoint: Endpoint): string | undefined {
  const header = ctx.inbound.headers[endpoint.config.tenantHeader]
  const given = ctx.route?.tenant ?? (Array.isArray(header) ? header[0] : header)
  if (!endpoint.tenancy) {
    if (ctx.route?.tenant !== undefined) throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}" does not use tenants`)
    return undefined
  }
  if (given === undefined || given === '') {
    throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}" needs a tenant: send the ${endpoint.config.tenantHeader} header or use /proxy/${endpoint.name}@<tenant>/…`)
  }
  const tenant = given.toLowerCase()
  // Only a DNS label may reach a URL: no dots, slashes, encodings or spaces.
  if (!DNS_LABEL.test(tenant)) throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}": the tenant must be a DNS label (letters, digits, hyphens; at most 63)`)
  return tenant
}
