/**
 * An endpoint's destination, parsed once instead of on every request: the configured URL's
 * origin and base path (per tenant when the URL has `{tenant}`), the path prefix, and the
 * compiled "stays under the base path" patterns. proxy/upstream-target.ts builds each
 * request's target from it; the rules are in docs/paths.md.
 */

/** The configured URL for one tenant (or for every request when it has no `{tenant}`). */
export interface DestinationBase {
  /** `https://host[:port]`, tenant substituted. */
  readonly origin: string
  /** The URL's path without trailing slashes ('' = the origin's root). */
  readonly path: string
  /** underBasePattern(path), compiled once. */
  readonly under: RegExp
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
  /** `pathPrefix` without trailing slashes, or ''. */
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

// `{{key}}` as configured, `%7B%7Bkey%7D%7D` as a URL serialises it (hex in either case).
const PLACEHOLDER = String.raw`\{\{[^}/]*\}\}|%7B%7B(?:(?!%7D)[^/])*%7D%7D`
const PLACEHOLDER_KEY = new RegExp(String.raw`\{\{([^}/]*)\}\}|%7B%7B((?:(?!%7D)[^/])*)%7D%7D`, 'gi')

/** The key a placeholder names, from its captures: as configured, or percent-decoded from the URL's spelling. */
function keyOf(braced: string | undefined, encoded: string | undefined): string {
  if (braced !== undefined) return braced
  try {
    return decodeURIComponent(encoded ?? '')
  } catch {
    return encoded ?? ''
  }
}

/** Finds the placeholders of a configured path (`/`-separated segment indexes, as `split('/')` counts). */
function pathPlaceholders(configuredPath: string): PathPlaceholders {
  const keys = new Set<string>()
  const segments: number[] = []
  configuredPath.split('/').forEach((segment, index) => {
    const found = [...segment.matchAll(PLACEHOLDER_KEY)]
    for (const m of found) keys.add(keyOf(m[1], m[2]))
    if (found.length > 0) segments.push(index)
  })
  return {
    has: (key) => keys.has(key),
    fill(pathname, values) {
      const parts = pathname.split('/')
      // These segments of an outbound path are the configured ones, as configured: the request
      // path is appended after them (route mode) or matched them literally (pathPrefix).
      for (const index of segments) {
        parts[index] = (parts[index] ?? '').replace(PLACEHOLDER_KEY, (whole, braced?: string, encoded?: string) => values.get(keyOf(braced, encoded)) ?? whole)
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
  const path = u.pathname.replace(/\/+$/, '')
  return { origin: u.origin, path, under: underBasePattern(path) }
}

/**
 * `url` is the endpoint's configured URL (validated at load); a tenant given to `at` is a
 * checked DNS label, substituted for every `{tenant}` and parsed by the same `new URL` as
 * before, so the result is the one a per-request parse gave (IDNA, IPv4-looking hosts…).
 */
export function compileDestination(url: string, pathPrefix: string | undefined): EndpointDestination {
  const prefix = pathPrefix?.replace(/\/+$/, '') ?? ''
  const templated = url.includes('{tenant}')
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
        base = parse(url.replaceAll('{tenant}', tenant))
        if (tenants.size >= MAX_CACHED_TENANTS) tenants.delete(tenants.keys().next().value as string)
        tenants.set(tenant, base)
      }
      return base
    },
  }
}
