import { authError } from './auth-failure.js'
import type { CallerApp } from './apps.js'
import type { Caller } from './caller.js'
import { tenantRefusal } from './tenants.js'

/** Throws 403 `caller_not_allowed` when the caller's app may not use the endpoint. */
export function authorizeEndpoint(caller: Caller, endpointName: string, apps: ReadonlyMap<string, CallerApp>): void {
  appAllowedEndpoint(caller, endpointName, apps)
}

/**
 * Throws 403 `caller_not_allowed` unless the caller's app may use the endpoint and, when the
 * call names a tenant, that tenant (the app's `tenants` and `tenantClaim`). `tenant` is the
 * tenant the call runs under; undefined only for an endpoint without tenancy.
 */
export function authorizeCall(caller: Caller, endpointName: string, tenant: string | undefined, apps: ReadonlyMap<string, CallerApp>): void {
  const app = appAllowedEndpoint(caller, endpointName, apps)
  const refusal = tenantRefusal(caller.appId, app.tenantRestriction, caller.claims, endpointName, tenant)
  if (refusal) throw refusal
}

function appAllowedEndpoint(caller: Caller, endpointName: string, apps: ReadonlyMap<string, CallerApp>): CallerApp {
  // Looked up per request, not copied into the bearer, so a config reload takes effect at once.
  const app = apps.get(caller.appId)
  if (app === undefined) {
    throw authError('app_not_configured', `caller app "${caller.appId}" is no longer configured`)
  }
  if (app.anyEndpoint || app.endpoints.has(endpointName)) return app
  throw authError('not_allowed', `caller app "${caller.appId}" may not use endpoint "${endpointName}"`, {
    reason: 'caller_not_allowed',
  })
}
