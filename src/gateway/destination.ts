/**
 * An endpoint's destination, parsed once instead of on every request: the configured URL's
 * origin and base path (per tenant when the URL has `{tenant}`), the path prefix, and the
 * compiled "stays under the base path" patterns. proxy/upstream-target.ts builds each
 * request's target from it; the rules are in docs/paths.md.
 */

import { GatewayError } from '../errors.js'
import { normalSpelling, PLACEHOLDER, PLACEHOLDER_KEY, placeholderKey } from '../config/index.js'
import { serverAuthority, type ServerAuthority } from '../tracing/index.js'

/** The configured URL for one tenant (or for every request when it has no `{tenant}`). */
export interface DestinationBase {
  /** `https://host[:port]`, tenant substituted. */
  readonly origin: string
  /** The URL's path without trailing slashes ('' = the origin's root). */
  readonly path: string
  /** underBasePattern of the path's normal spelling (config/path-spelling.ts), compiled once: test a path's normal spelling. */
  readonly under: RegExp
  /** The origin's host and port (its scheme's default when the URL gives none), for trace spans. */
  readonly server: ServerAuthority
  /** The origin's scheme and host as a URL's `protocol` and `host` read them: what an OAuth 1.0a signer reads of it, split once. */
  readonly originParts: OriginParts
}

/** A URL's origin in the parts a signer reads. */
export interface OriginParts {
  /** The scheme with its ":" (`https:`). */
  readonly protocol: string
  /** The text after "//": `host[:port]`. */
  readonly host: string
}

/**
 * The `{{key}}` path-field placeholders of a configured path (the endpoint URL's, or
 * `pathPrefix`), found once at compile time by segment position. Only those segments of an
 * outbound path are ever filled: a `{{key}}` the caller writes anywhere else is its own text.
 */
export interface PathPlaceholders {
  /** Whether the configured path has a `{{key}}` placeholder. */
  has(key: string): boolean
  /**
   * `pathname` (an outbound path under the configured one) with the configured placeholders of
   * the keys in `values` replaced by their values (already percent-encoded), in one pass, so a
   * value is never searched for placeholders; every other byte stays.
   */
  fill(pathname: string, values: ReadonlyMap<string, string>): string
}

export interface EndpointDestination {
  /**
   * `pathPrefix` without trailing slashes, in its normal spelling (config/path-spelling.ts), or '':
   * `/%6Fnly` is `/only`, for matching, ordering by length and telling endpoints apart.
   */
  readonly prefix: string
  /** underBasePattern(prefix), compiled once. */
  readonly prefixUnder: RegExp
  /** The endpoint URL path's placeholders, which route mode fills (the tenant never adds a segment). */
  readonly urlPlaceholders: PathPlaceholders
  /** `pathPrefix`'s placeholders, which the forward proxy and CONNECT fill. */
  readonly prefixPlaceholders: PathPlaceholders
  /** The URL for this tenant; throws what `new URL` throws, uncached, exactly as parsing it per request did. */
  at(tenant: string | undefined): DestinationBase
}

/** Tenants remembered per endpoint; past this the oldest is forgotten (and parsed again when it returns). */
export const MAX_CACHED_TENANTS = 1024

/** Finds the placeholders of a configured path (`/`-separated segment indexes, as `split('/')` counts). */
function pathPlaceholders(configuredPath: string): PathPlaceholders {
  const keys = new Set<string>()
  const segments: number[] = []
  configuredPath.split('/').forEach((segment, index) => {
    const found = [...segment.matchAll(PLACEHOLDER_KEY)]
    for (const m of found) keys.add(placeholderKey(m[1], m[2]))
    if (found.length > 0) segments.push(index)
  })
  return {
    has: (key) => keys.has(key),
    fill(pathname, values) {
      const parts = pathname.split('/')
      // These segments of an outbound path are the configured ones, as configured: the request
      // path is appended after them (route mode) or matched them literally (pathPrefix).
      for (const index of segments) {
        parts[index] = (parts[index] ?? '').replace(PLACEHOLDER_KEY, (whole, braced?: string, encoded?: string) => values.get(placeholderKey(braced, encoded)) ?? whole)
      }
      return parts.join('/')
    },
  }
}

/** The URL path's placeholders: the tenant is a DNS label, so any one gives the segments every tenant has. */
function urlPlaceholders(url: string): PathPlaceholders {
  try {
    return pathPlaceholders(new URL(url.replaceAll('{tenant}', 'tenant')).pathname)
  } catch {
    return pathPlaceholders('') // no request can be built either: at() throws the same parse error
  }
}

/**
 * The base path as a pattern in which a `{{name}}` path-field placeholder (filled later by
 * apply_authorization with a percent-encoded value) stands for exactly one segment.
 */
export function underBasePattern(basePath: string): RegExp {
  const parts = basePath.split(new RegExp(`(${PLACEHOLDER})`, 'i'))
  const body = parts.map((p, i) => (i % 2 === 1 ? '[^/]*' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')
  return new RegExp(`^${body}(?:/|$)`)
}

function parse(url: string): DestinationBase {
  const u = new URL(url)
  return baseOf(u)
}

function baseOf(u: URL): DestinationBase {
  const path = u.pathname.replace(/\/+$/, '')
  const origin = u.origin
  // A parsed URL's origin is `scheme://host[:port]`: the host is what follows "//".
  const slashes = origin.indexOf('//')
  return { origin, path, under: underBasePattern(normalSpelling(path)), server: serverAuthority(u), originParts: { protocol: origin.slice(0, slashes), host: origin.slice(slashes + 2) } }
}

/** The authority text of a configured URL (between `://` and the path, query or fragment). */
function authorityOf(url: string): string {
  const rest = url.slice(url.indexOf('://') + 3)
  const end = rest.search(/[/?#]/)
  return end === -1 ? rest : rest.slice(0, end)
}

/**
 * The URL for one tenant. Where the tenant is part of the host, the host must be the text
 * substituted, as a name: WHATWG URL reads a host that ends in a number as an IPv4 address
 * (`https://{tenant}` with the tenant `2130706433` or `0x7f000001` is 127.0.0.1) and refuses
 * some labels (`api.{tenant}` with `1`). Such a tenant names no host of the endpoint: a 400
 * (`tenant_invalid`) here, instead of a 500 from the dial's origin check (or from `new URL`).
 */
function parseTenanted(url: string, tenant: string, tenantInHost: boolean): DestinationBase {
  const filled = url.replaceAll('{tenant}', tenant)
  if (!tenantInHost) return parse(filled)
  const expected = authorityOf(filled).replace(/:\d*$/, '').toLowerCase()
  let u: URL | undefined
  try {
    u = new URL(filled)
  } catch {
    u = undefined
  }
  if (u === undefined || u.hostname !== expected) {
    throw new GatewayError('tenant_invalid', `the tenant "${tenant}" does not make a host name of the endpoint's URL (a host ending in a number is read as an IP address)`)
  }
  return baseOf(u)
}

/**
 * `url` is the endpoint's configured URL (validated at load); a tenant given to `at` is a
 * checked DNS label, substituted for every `{tenant}` and parsed by the same `new URL` as
 * before, so the result is the one a per-request parse gave (IDNA, IPv4-looking hosts…).
 */
export function compileDestination(url: string, pathPrefix: string | undefined): EndpointDestination {
  const prefix = normalSpelling(pathPrefix?.replace(/\/+$/, '') ?? '')
  const templated = url.includes('{tenant}')
  const tenantInHost = authorityOf(url).includes('{tenant}')
  let untenanted: DestinationBase | undefined
  const tenants = new Map<string, DestinationBase>()
  return {
    prefix,
    prefixUnder: underBasePattern(prefix),
    urlPlaceholders: urlPlaceholders(url),
    prefixPlaceholders: pathPlaceholders(prefix),
    at(tenant) {
      if (tenant === undefined || !templated) return (untenanted ??= parse(url))
      let base = tenants.get(tenant)
      if (base === undefined) {
        base = parseTenanted(url, tenant, tenantInHost)
        if (tenants.size >= MAX_CACHED_TENANTS) tenants.delete(tenants.keys().next().value as string)
        tenants.set(tenant, base)
      }
      return base
    },
  }
}
