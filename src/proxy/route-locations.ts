/**
 * Route mode puts an endpoint at `/proxy/<endpoint>[@tenant]/` on the gateway, but its backend
 * names its own URLs in `Location`, `Content-Location`, `Link` and `Refresh`: followed as sent, an
 * absolute one takes the caller straight to the backend (which wants the client certificate the
 * gateway holds), and a relative one, resolved against the gateway's URL, to a gateway path the
 * backend never meant (`/base/next`, or `../other` climbing into another endpoint's route). As
 * nginx's `proxy_redirect default` does, each URI reference is read against the upstream request
 * URL (WHATWG URL: dot-segments in any encoding are resolved first, so `/base/../admin` is `/admin`):
 * - the endpoint's origin and a path strictly under this request's base path (the tenant segment
 *   and filled path placeholders included; spelled alike or in an equivalent percent-encoding,
 *   RFC 3986 §6.2.2) → `/proxy/<endpoint>[@tenant]/<rest>` + query + fragment,
 *   an absolute-path reference: the caller resolves it against the gateway URL it used, so no
 *   `Host` header is ever echoed and nothing depends on `listen.publicUrl`;
 * - a reference without its own authority that resolves anywhere else → the absolute upstream URL
 *   it means (a caller resolving it against the gateway would land elsewhere), unless that URL
 *   would show a filled path placeholder (then it stays as sent);
 * - an absolute or network-path reference anywhere else → as sent.
 * The query scrub (echoed-fields.ts) runs before: nothing it removed comes back. Forward-proxy
 * and CONNECT responses are left alone: there the caller's URL is the backend's.
 */
import { spelledPrefix } from '../config/index.js'
import type { Admitted, OutboundHeaders } from './pipeline.js'

/** What one route-mode response's URI references are mapped with. */
export interface RouteScope {
  /** `/proxy/<endpoint>[@tenant]`, as the caller addressed it (no trailing slash). */
  readonly prefix: string
  /** The endpoint's origin (`https://host[:port]`, tenant substituted). */
  readonly origin: string
  /** This request's base path as sent upstream (tenant and placeholders filled, no trailing slash; '' = root). */
  readonly base: string
  /** The configured base path (placeholders unfilled): where it differs from `base`, a value was filled. */
  readonly configuredBase: string
  /** The upstream request URL with the caller's own query: what a relative reference is resolved against. */
  readonly requestUrl: string
}

// Stand-ins for the gateway URL a caller used (http or https listener): only the host is compared.
const CALLER_BASES = ['http://caller-origin.invalid/a/b', 'https://caller-origin.invalid/a/b'] as const

/** The scope of one route-mode response (ctx.route is set in route mode). */
export function routeScope(ctx: Admitted): RouteScope {
  const route = ctx.route as NonNullable<Admitted['route']>
  const target = ctx.target
  const depth = target.basePath === '' ? 0 : target.basePath.split('/').length
  const base = depth === 0 ? '' : ctx.outbound.url.pathname.split('/').slice(0, depth).join('/')
  const prefix = route.tenant === undefined ? `/proxy/${route.endpoint}` : `/proxy/${route.endpoint}@${route.tenant}`
  return { prefix, origin: target.origin, base, configuredBase: target.basePath, requestUrl: target.origin + base + ctx.inbound.target.path + target.query }
}

/** One URI reference a backend sent, as the caller should get it (see the module comment). */
export function routeReference(reference: string, scope: RouteScope): string {
  let resolved: URL
  try {
    resolved = new URL(reference, scope.requestUrl)
  } catch {
    return reference
  }
  const path = resolved.pathname
  const base = resolved.origin === scope.origin ? spelledPrefix(path, scope.base) : -1
  if (base >= 0 && path[base] === '/') {
    // The serialised path, query and fragment as they are (an empty `?` or `#` too); userinfo means nothing on the route.
    resolved.username = ''
    resolved.password = ''
    return scope.prefix + resolved.href.slice(scope.origin.length + base)
  }
  if (!staysOnCallerOrigin(reference) || showsFilledSegment(path, scope)) return reference
  return resolved.href
}

/** True when a caller resolving `reference` against the gateway URL stays on the gateway (WHATWG URL, like the caller's client). */
function staysOnCallerOrigin(reference: string): boolean {
  return CALLER_BASES.some((base) => {
    try {
      return new URL(reference, base).host === 'caller-origin.invalid'
    } catch {
      return false
    }
  })
}

/** True when `path` keeps this request's base path up to a segment the gateway filled (a path field's value). */
function showsFilledSegment(path: string, scope: RouteScope): boolean {
  if (scope.base === scope.configuredBase) return false
  const filled = scope.base.split('/')
  const configured = scope.configuredBase.split('/')
  const first = filled.findIndex((segment, i) => segment !== configured[i])
  return spelledPrefix(path, filled.slice(0, first + 1).join('/')) >= 0
}

function each(value: string | string[], map: (v: string) => string): string | string[] {
  return Array.isArray(value) ? value.map(map) : map(value)
}

/** Maps the URI references of a route-mode response's Location, Content-Location, Link and Refresh (in place). */
export function routeEchoedUris(ctx: Admitted, headers: OutboundHeaders): void {
  const scope = routeScope(ctx)
  const map = (uri: string): string => routeReference(uri, scope)
  for (const name of ['location', 'content-location'] as const) {
    const v = headers[name]
    if (v !== undefined) headers[name] = each(v, map)
  }
  // Refresh: <seconds>; url=<uri-reference> (echoed-fields.ts reads it the same way).
  const refresh = headers.refresh
  if (refresh !== undefined) headers.refresh = each(refresh, (r) => r.replace(/(url\s*=\s*["']?)([^"']*)/i, (_, lead: string, uri: string) => `${lead}${map(uri.trim())}`))
  // Link: <uri-reference>; params, … (RFC 8288): each target, resolved against the request URL.
  const link = headers.link
  if (link !== undefined) headers.link = each(link, (l) => l.replace(/<([^>]*)>/g, (_, uri: string) => `<${map(uri)}>`))
}
