/**
 * Route mode puts every endpoint under the gateway's one origin (`/proxy/<endpoint>/…`), so a
 * cookie jar would send endpoint A's cookies to endpoint B's backend. As nginx's
 * proxy_cookie_path/proxy_cookie_domain do, each upstream Set-Cookie is rewritten: its Path is
 * mapped from the endpoint's base path to `/proxy/<endpoint>[@tenant]/` (anything outside the
 * base path becomes that prefix itself), and Domain is dropped (a host-only cookie of the
 * gateway). Forward-proxy and CONNECT responses are left alone: there the caller sees the
 * backend's own origin. The base path is recognised in any equivalent percent-encoding (RFC 3986
 * §6.2.2, path-spelling.ts: `/%7Eteam/app` under `/~team`), as Location is: a jar compares paths
 * literally, but the gateway sends every request with the endpoint URL's spelling, so a caller
 * could never reach the backend's other spelling, and the endpoint root would widen the cookie to
 * every path of the endpoint. What follows the base path stays as sent. Rules (RFC 6265 §5.2, §5.1.4):
 * - every Path attribute is replaced by one (a jar uses the last; a missing or relative Path
 *   means the default path of the request, mapped the same way), every Domain is dropped;
 * - other attributes are kept as sent, names compared case-insensitively;
 * - a Set-Cookie with a character no header value may carry, or with neither name nor value,
 *   is dropped (no jar would store it); anything else passes, rewritten.
 */
import { underBasePattern } from '../gateway/index.js'
import { normalSpelling } from '../config/index.js'
import type { Admitted, OutboundHeaders } from './pipeline.js'

/** Where an endpoint's cookies live on the gateway's origin. */
export interface CookieScope {
  /** `/proxy/<endpoint>[@tenant]`, as the caller addressed it (no trailing slash). */
  readonly prefix: string
  /** The endpoint's base path in its normal spelling (path-spelling.ts) as a pattern: `{{name}}` is one segment. */
  readonly under: RegExp
  /** The path sent upstream, for the default path of a cookie without a usable Path. */
  readonly upstreamPath: string
}

// RFC 9110 field-value characters (what node:http lets a header carry); anything else is dropped.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
// RFC 6265bis: an attribute value over 1024 bytes is ignored, and a jar would then fall back to
// the default path of the gateway URL, which can be outside the prefix. So the prefix instead.
const MAX_PATH = 1024

/**
 * The scope of one route-mode response; `basePath`: the endpoint's, as configured (upstream-target's `basePath`);
 * `compiled`: underBasePattern(normalSpelling(basePath)) as the snapshot holds it (the target's `under`), so nothing is compiled per response.
 */
export function cookieScope(endpoint: string, tenantSegment: string | undefined, basePath: string, upstreamPath: string, compiled?: RegExp): CookieScope {
  const prefix = tenantSegment === undefined ? `/proxy/${endpoint}` : `/proxy/${endpoint}@${tenantSegment}`
  return { prefix, under: compiled ?? underBasePattern(normalSpelling(basePath)), upstreamPath }
}

/** The scope of a route-mode response to `ctx` (ctx.route is set in route mode), from its target's pattern (compiled once per endpoint snapshot and tenant). */
export function routeCookieScope(ctx: Admitted): CookieScope {
  const route = ctx.route as NonNullable<Admitted['route']>
  return cookieScope(route.endpoint, route.tenant, ctx.target.basePath, ctx.target.path, ctx.target.under)
}

/** Rewrites every Set-Cookie of a route-mode response in place (removes the header when none is left). */
export function scopeSetCookies(headers: OutboundHeaders, scope: CookieScope): void {
  const value = headers['set-cookie']
  if (value === undefined) return
  const kept = (Array.isArray(value) ? value : [value]).map((v) => scopeSetCookie(v, scope)).filter((v): v is string => v !== undefined)
  if (kept.length === 0) delete headers['set-cookie']
  else headers['set-cookie'] = kept
}

/** One Set-Cookie value scoped to the endpoint, or undefined when it is dropped. */
export function scopeSetCookie(setCookie: string, scope: CookieScope): string | undefined {
  if (!HEADER_VALUE.test(setCookie)) return undefined
  const [pair = '', ...attributes] = setCookie.split(';')
  const nameValue = pair.trim()
  if (nameValue === '' || nameValue === '=') return undefined
  let path: string | undefined
  const kept: string[] = []
  for (const raw of attributes) {
    const attribute = raw.trim()
    if (attribute === '') continue
    const eq = attribute.indexOf('=')
    const name = (eq < 0 ? attribute : attribute.slice(0, eq)).trim().toLowerCase()
    if (name === 'domain') continue
    // The last Path wins (§5.3 step 7 takes the last attribute of a name).
    if (name === 'path') path = eq < 0 ? '' : attribute.slice(eq + 1).trim()
    else kept.push(attribute)
  }
  kept.push(`Path=${gatewayPath(path, scope)}`)
  return `${nameValue}; ${kept.join('; ')}`
}

/** The cookie's path on the gateway: always `prefix/` or below it. */
export function gatewayPath(path: string | undefined, scope: CookieScope): string {
  // §5.2.4: a Path that is empty or does not start with "/" means the default path.
  const upstream = path !== undefined && path.startsWith('/') ? path : defaultPath(scope.upstreamPath)
  const root = `${scope.prefix}/`
  const m = scope.under.exec(normalSpelling(upstream))
  if (!m) return root
  // What follows the base path's segments (counted on the normal spelling, which keeps every "/"), as
  // the cookie spells it, from its "/" ('' when the cookie path is the base path itself).
  const rest = m[0].endsWith('/') ? `/${upstream.split('/').slice(m[0].slice(0, -1).split('/').length).join('/')}` : ''
  const mapped = scope.prefix + (rest === '' ? '/' : rest)
  // A dot-segment or backslash is no path a jar would ever match literally; keep the cookie at the endpoint's root.
  return mapped.length > MAX_PATH || /(^|\/)\.\.?(\/|$)|%2e|\\/i.test(rest) ? root : mapped
}

/** RFC 6265 §5.1.4: the directory of the request path. */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf('/')
  return last <= 0 ? '/' : requestPath.slice(0, last)
}
