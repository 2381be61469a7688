/**
 * Load-time check that every `{tenant}` can be filled. A request names a tenant only when
 * its profile or endpoint has tenancy (`tenancy: true`, or `{tenant}` in the endpoint's
 * URL), and a URL or authorization field needing one otherwise fails every request with
 * 400: a config problem. So is a tenant's own client bundle on an endpoint without tenancy.
 */
import { parseTemplate } from './template.js'
import { parseUrlTemplate } from './url-template.js'
import { PROFILE_URL_KEYS } from './field-references.js'
import type { Report } from './normalize-util.js'
import type { EndpointConfig, FieldConfig, ProfileConfig } from './types.js'

const TENANT = '{tenant}'

/**
 * An endpoint URL with the tenant spelled `{tenant}` (so `{{tenant}}` gives the endpoint tenancy
 * and is filled like it). Other `{{key}}` placeholders are left as they are: path-type
 * authorization fields fill them.
 */
export function normalizeEndpointUrl(url: string): string {
  return url.replace(/\{\{\s*tenant\s*\}\}/g, TENANT)
}

/** Whether a forwarded request through the endpoint names a tenant (the rule of match_endpoint). */
export function endpointTenancy(e: EndpointConfig, profiles: readonly ProfileConfig[]): boolean {
  return e.url.includes(TENANT) || profiles.some((p) => p.name === e.profile && p.tenancy)
}

/** The endpoint whose client bundle calls the profile's token URLs (dance/provider.ts profileEndpoint). */
const tokenEndpoint = (p: ProfileConfig, endpoints: readonly EndpointConfig[]): EndpointConfig | undefined =>
  p.endpoint !== undefined ? endpoints.find((e) => e.name === p.endpoint) : endpoints.find((e) => e.profile === p.name)

/** Whether requests for the profile's dance name a tenant (the rule of the gateway API's tenant check). */
function profileTenancy(p: ProfileConfig, endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[]): boolean | undefined {
  const endpoint = tokenEndpoint(p, endpoints)
  if (endpoint === undefined) return undefined // reported elsewhere: the dance cannot start at all
  return p.tenancy || endpointTenancy(endpoint, profiles)
}

/** Reports each profile URL containing `{tenant}` whose profile never has a tenant. */
export function checkTenantReferences(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  for (const p of profiles) {
    if (profileTenancy(p, endpoints, profiles) !== false) continue
    for (const key of PROFILE_URL_KEYS) {
      const source = p[key]
      if (source === undefined) continue
      let hasTenant: boolean
      try {
        hasTenant = parseUrlTemplate(source).parts.some((x) => x.part.kind === 'tenant')
      } catch {
        continue // reported with the field references
      }
      if (hasTenant) {
        report(['profiles', p.index, key], `contains {tenant}, but profile "${p.name}" has no tenancy, so no request names a tenant (set tenancy: true, or put {tenant} in its endpoint's URL)`)
      }
    }
  }
}

/** Indexes of the fields whose value template has a tenant placeholder. */
function tenantFields(fields: readonly FieldConfig[]): number[] {
  return fields.flatMap((f, i) => {
    try {
      return parseTemplate(f.value).parts.some((p) => p.kind === 'tenant') ? [i] : []
    } catch {
      return [] // reported where fields are normalised
    }
  })
}

const HOW = 'put {tenant} in its URL, or set tenancy: true on its profile'

/**
 * Reports `tenants` (per-tenant client bundles) on an endpoint without tenancy: no request of it
 * names a tenant, so every one, a forward request with the tenant header included, would present
 * the endpoint's own bundle, never the one the config gives that tenant. The token calls of a
 * dance with tenancy (a `tenancy: true` profile naming it in `endpoint`) do name one: those use them.
 */
export function checkTenantBundles(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  for (const e of endpoints) {
    if (Object.keys(e.tenants).length === 0 || endpointTenancy(e, profiles)) continue
    if (profiles.some((p) => p.tenancy && tokenEndpoint(p, endpoints) === e)) continue
    report(['endpoints', e.index, 'tenants'], `gives tenants their own client bundles, but endpoint "${e.name}" has no tenancy, so no request names a tenant and each would present its tls bundle (${HOW})`)
  }
}

/**
 * Reports each authorization field with `{{tenant}}` that some endpoint applies to requests
 * that never name a tenant: the endpoint's own fields, and its profile's.
 */
export function checkTenantFields(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  for (const e of endpoints) {
    if (endpointTenancy(e, profiles)) continue
    for (const i of tenantFields(e.fields)) {
      report(['endpoints', e.index, 'fields', i, 'value'], `uses {{tenant}}, but endpoint "${e.name}" has no tenancy, so no request names a tenant (${HOW})`)
    }
  }
  for (const p of profiles) {
    if (p.tenancy) continue
    const without = endpoints.filter((e) => e.profile === p.name && !endpointTenancy(e, profiles)).map((e) => `"${e.name}"`)
    if (without.length === 0) continue
    for (const i of tenantFields(p.fields)) {
      report(['profiles', p.index, 'fields', i, 'value'], `uses {{tenant}}, but endpoint ${without.join(', ')} of profile "${p.name}" has no tenancy, so its requests name no tenant (${HOW})`)
    }
  }
}
