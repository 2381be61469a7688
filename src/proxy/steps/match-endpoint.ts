/**
 * route: which configured endpoint this request is for, and for which tenant. Forward and
 * CONNECT modes match host:port (+ optional path prefix); route mode names the endpoint.
 * No match → 403: the gateway is never an open proxy.
 */
import { GatewayError } from '../../errors.js'
import { canonicalTenant, TENANT_RULE } from '../../config/index.js'
import { carriesGatewayBearer, headerText, singleHeader } from '../../callers/index.js'
import type { Endpoint } from '../../gateway/index.js'
import type { Context, Routed } from '../pipeline.js'
import { buildUpstreamTarget, checkRequestPath, isUnderBase } from '../upstream-target.js'
import { routeOutbound } from '../outbound-request.js'
import { cgiShadowTest, withoutShadows } from '../gateway-headers.js'
import { ipv4SpellingNote } from '../target-spelling.js'

/** One test per configured tenant header name (a handful per config), built on first use. */
const tenantHeaderTests = new Map<string, (name: string) => boolean>()
function tenantHeaderTest(header: string): (name: string) => boolean {
  let test = tenantHeaderTests.get(header)
  if (!test) tenantHeaderTests.set(header, (test = shadowsOf(header)))
  return test
}
function shadowsOf(header: string): (name: string) => boolean {
  try {
    return cgiShadowTest([header], [header])
  } catch {
    // A configured name outside the plain letters, digits and "-" (`x_tenant`): that name only.
    return (name) => name === header
  }
}

/** Picks the endpoint, tenant, pool and destination; throws endpoint_not_configured / tenant_invalid / bad_request. */
export function matchEndpoint(ctx: Context): Routed {
  const endpoint = ctx.route ? byName(ctx, ctx.route.endpoint) : byHost(ctx)
  // Read (and refused when sent twice) whether or not the endpoint uses tenants: one rule for every call.
  const tenant = tenantOf(ctx, endpoint, singleHeader(ctx.inbound, endpoint.config.tenantHeader))
  const { path, query } = ctx.inbound.target
  // The one constructor: origin from the endpoint, path checked, nothing resolved as a URL reference.
  const target = buildUpstreamTarget(endpoint, tenant, path, query, ctx.route ? 'append' : 'as_is')
  routeOutbound(ctx.outbound, target)
  // The tenant header names the caller's tenant to the gateway only: in none of its spellings a
  // CGI-style backend reads as it (gateway-headers.ts), and without a delete (a slow dictionary).
  ctx.outbound.headers = withoutShadows(ctx.outbound.headers, tenantHeaderTest(endpoint.config.tenantHeader))
  if (tenant !== undefined) ctx.facts.tenant = tenant
  const own = tenant === undefined ? undefined : endpoint.tenantUpstreams.get(tenant)
  // The same object with the routing fields set: a copy of the whole context per phase cost more than the phase.
  const routed = ctx as Context & { endpoint: Endpoint; target: Routed['target']; upstream: Routed['upstream']; tenant?: string }
  routed.endpoint = endpoint
  routed.target = target
  routed.upstream = own?.upstream ?? endpoint.upstream
  if (tenant !== undefined) routed.tenant = tenant
  return routed
}

function byName(ctx: Context, name: string): Endpoint {
  const endpoint = ctx.gateway.endpoints.get(name)
  if (!endpoint) throw new GatewayError('endpoint_not_configured', `endpoint "${name}" is not configured`)
  return endpoint
}

/**
 * Host and port pick the endpoints; the first (longest) whose pathPrefix holds the path wins, both
 * compared in their normal spelling: `/%6Fnly/x` is `/only/x` to the backend, so it is the `/only`
 * endpoint's, not a prefix-less one's (the path is still sent as written).
 */
function byHost(ctx: Context): Endpoint {
  const { host, port, path } = ctx.inbound.target
  if (host === undefined) throw new GatewayError('bad_request', 'the request names no host')
  const authority = `${host}:${port ?? 443}`
  // A tunnel opened before a reload that turned interception off: a fresh start refuses its CONNECT.
  if (ctx.mode === 'connect' && !ctx.gateway.interception) throw new GatewayError('endpoint_not_configured', `tunnel to ${authority} refused: TLS interception is no longer configured (interception.caCert)`)
  // Judge the path before matching, so no prefix is matched on a path the rules refuse.
  checkRequestPath(path)
  const endpoint = (ctx.gateway.byHost.get(authority) ?? []).find((e) => !e.config.pathPrefix || isUnderBase(path, e.destination.prefix))
  if (!endpoint) throw new GatewayError('endpoint_not_configured', `host ${port === undefined ? host : authority} is not configured on this gateway${ipv4SpellingNote(host)}`)
  return endpoint
}

/** The tenant from the route (`/proxy/<ep>@<tenant>/`) or the tenant header (`sent`); validated as a DNS label. */
function tenantOf(ctx: Context, endpoint: Endpoint, sent: string | undefined): string | undefined {
  if (!endpoint.tenancy) {
    if (ctx.route?.tenant !== undefined) throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}" does not use tenants`)
    return undefined
  }
  // Read as every header text is (UTF-8): a tenant is a DNS label, so non-ASCII is refused below either way.
  const given = ctx.route?.tenant ?? (sent === undefined ? undefined : headerText(endpoint.config.tenantHeader, sent))
  if (given === undefined || given === '') {
    throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}" needs a tenant: send the ${endpoint.config.tenantHeader} header or use /proxy/${endpoint.name}@<tenant>/…`)
  }
  const tenant = canonicalTenant(given)
  // Only a DNS label may reach a URL: no dots, slashes, encodings or spaces.
  if (tenant === undefined) throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}": ${TENANT_RULE}`)
  // A bearer, in any case, would reach a URL (a host: DNS), the access log and the metrics as the tenant.
  if (carriesGatewayBearer(tenant)) throw new GatewayError('credential_in_target', `endpoint "${endpoint.name}": the tenant holds a gateway credential, which would reach the upstream and the logs as the tenant: send it in Proxy-Authorization (route mode: Authorization) only`)
  return tenant
}
