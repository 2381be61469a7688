/**
 * Whose user an operator names: a `sub` is scoped to the app that asserted it, so the operator
 * routes that act for one user (an authorize link, a revoke) say which app's user with `app=`.
 */
import { GatewayError } from '../errors.js'
import type { Gateway } from '../gateway/index.js'

/**
 * The user space of the caller app with client id `app`; an empty `app` names the callers without
 * an app (no credentials, X-Gateway-User), whose space is "" (a client id is never empty).
 * 400 when `app` is not given or no app has that client id.
 */
export function userSpaceNamed(gateway: Gateway, app: string | undefined): string {
  if (app === undefined) {
    throw new GatewayError('bad_request', 'name the caller app whose user this is: app=<clientId> (a user\'s tokens belong to the user space of the app that asserts the user; app= with no value: callers without an app)')
  }
  if (app === '') return ''
  const space = gateway.callers.userSpaces.get(app)
  if (space === undefined) throw new GatewayError('bad_request', `app=: no caller app has the client id "${app}" (callers.apps[].clientId)`)
  return space
}
