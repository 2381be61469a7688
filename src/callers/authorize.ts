import { authError } from './auth-failure.js'
import type { CallerApp } from './apps.js'
import type { Caller } from './caller.js'

/** Throws 403 `caller_not_allowed` when the caller's app may not use the endpoint. */
export function authorizeEndpoint(caller: Caller, endpointName: string, apps: ReadonlyMap<string, CallerApp>): void {
  // Looked up per request, not copied into the bearer, so a config reload takes effect at once.
  const app = apps.get(caller.appId)
  if (app === undefined) {
    throw authError('app_not_configured', `caller app "${caller.appId}" is no longer configured`)
  }
  if (app.anyEndpoint || app.endpoints.has(endpointName)) return
  throw authError('not_allowed', `caller app "${caller.appId}" may not use endpoint "${endpointName}"`, {
    reason: 'caller_not_allowed',
  })
}
