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

export interface EndpointDestination {
  /** `pathPrefix` without trailing slashes, or ''. */
  readonly prefix: string
  /** underBasePattern(prefix), compiled once. */
  readonly prefixUnder: RegExp
  /** The URL for this tenant; throws what `new URL` throws, uncached, exactly as parsing it per request did. */
  at(tenant: string | undefined): DestinationBase
}

/** Tenants remembered per endpoint; past this the oldest is forgotten (and parsed again when it returns). */
export const MAX_CACHED_TENANTS = 1024

/**
 * The base path as a pattern in which a `{{name}}` path-field placeholder (filled later by
 * apply_authorization with a percent-encoded value) stands for exactly one segment.
 */
export function underBasePattern(basePath: string): RegExp {
  const parts = basePath.split(/(\{\{[^}/]*\}\}|%7B%7B(?:(?!%7D)[^/])*%7D%7D)/i)
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
