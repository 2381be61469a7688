/**
 * Load-time rules of a caller app's tenant restriction (`tenants`, `tenantClaim`) that need
 * the endpoints: a restriction on an app none of whose endpoints has tenancy would never
 * apply (no call of it names a tenant), so it is a mistake in the file, not a quiet no-op.
 */
import type { Report } from './normalize-util.js'
import { endpointTenancy } from './tenant-references.js'
import type { CallerAppSettings, EndpointConfig, ProfileConfig } from './types.js'

/** Reports tenant restrictions that could never apply, and claim rules on apps that carry no claims. */
/** Every endpoint an app names must exist (`*`: all): a typo would otherwise be a 403 at run time. */
export function checkCallerEndpoints(apps: readonly CallerAppSettings[], endpoints: readonly EndpointConfig[], report: Report): void {
  const names = new Set(endpoints.map((e) => e.name))
  apps.forEach((app, i) => {
    app.endpoints.forEach((name, j) => {
      if (name === '*' || names.has(name)) return
      report(['apps', i, 'endpoints', j], `app "${app.clientId}" names endpoint "${name}", which is not configured (endpoints: ${[...names].map((n) => `"${n}"`).join(', ') || 'none'})`)
    })
  })
}

export function checkCallerTenants(apps: readonly CallerAppSettings[], endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  apps.forEach((app, i) => {
    if (app.tenants === undefined && app.tenantClaim === undefined) return
    const key = app.tenants !== undefined ? 'tenants' : 'tenantClaim'
    if (app.tenantClaim !== undefined && app.hs256Secret === undefined && app.rs256PublicKey === undefined) {
      report(['apps', i, 'tenantClaim'], `app "${app.clientId}" is known only by its client certificate, which carries no claims: give hs256Secret or rs256PublicKey, or use tenants`)
    }
    const usable = app.endpoints.includes('*') ? endpoints : endpoints.filter((e) => app.endpoints.includes(e.name))
    if (usable.some((e) => endpointTenancy(e, profiles))) return
    const which = usable.length === 0 ? 'it may use no configured endpoint' : `none of its endpoints (${usable.map((e) => `"${e.name}"`).join(', ')}) has tenancy`
    report(['apps', i, key], `app "${app.clientId}" restricts tenants, but ${which}, so no call of it names a tenant (tenancy: {tenant} in an endpoint's URL, or tenancy: true on its profile)`)
  })
}
