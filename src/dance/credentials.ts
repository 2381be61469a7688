/**
 * Credentials of the OAuth API routes: the operator's `callers.adminToken`, or a caller
 * app's bearer (from POST /gateway/token, or a JWT without `jti`) for the user it names.
 * Both travel as `Authorization: Bearer …`.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { GatewayError } from '../errors.js'
import { authorizeCall, resolveBearer, type AssertedCaller, type BearerStores } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import { bearerFrom } from '../api/http.js'

/** Who is calling an OAuth API route. */
export type ApiCredential = { readonly kind: 'admin' } | { readonly kind: 'caller'; readonly caller: AssertedCaller }

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/** True when `token` is the configured admin token (constant-time). */
export function isAdminToken(gateway: Gateway, token: string): boolean {
  const admin = gateway.config.callers.adminToken
  // Digests first: timingSafeEqual needs equal lengths, and the length must not leak either.
  return admin !== undefined && admin !== '' && timingSafeEqual(sha256(admin), sha256(token))
}

/** Operator-only routes: the admin token or 401/403. */
export function requireAdmin(req: IncomingMessage, gateway: Gateway, route: string): void {
  if (gateway.config.callers.adminToken === undefined) {
    throw new GatewayError('caller_not_allowed', `${route} is an operator route and callers.adminToken is not configured`)
  }
  const token = bearerFrom(req)
  if (token === undefined) throw new GatewayError('caller_credentials_missing', `${route} needs Authorization: Bearer <callers.adminToken>`)
  if (!isAdminToken(gateway, token)) throw new GatewayError('caller_credentials_invalid', `${route}: the bearer is not the admin token`)
}

/** The admin token or a registered caller's bearer; anything else is a 401 challenge. */
export async function apiCredential(req: IncomingMessage, gateway: Gateway, stores: BearerStores | undefined, route: string): Promise<ApiCredential> {
  const token = bearerFrom(req)
  if (token === undefined) throw new GatewayError('caller_credentials_missing', `${route} needs Authorization: Bearer <caller bearer or admin token>`)
  if (isAdminToken(gateway, token)) return { kind: 'admin' }
  if (!gateway.callers.enabled || !stores) throw new GatewayError('caller_credentials_invalid', `${route}: the bearer is not the admin token (no caller apps are configured)`)
  const caller = await resolveBearer(token, stores, { apps: gateway.callers.apps, clockSkewSec: gateway.config.callers.clockSkewSec, claimAliasPrefix: gateway.callers.claimAliasPrefix })
  return { kind: 'caller', caller }
}

/** A caller may start the dance only for its own user, on an endpoint (and tenant) its app may use. */
export function callerMayAuthorize(cred: ApiCredential, gateway: Gateway, endpoint: string, tenant: string | undefined, user: string | undefined): { user: string; anonymous: boolean } | undefined {
  if (cred.kind === 'admin') return undefined
  const { caller } = cred
  if (user !== undefined && user !== caller.sub) throw new GatewayError('caller_not_allowed', `caller app "${caller.appId}" may start an authorization only for its own user (the bearer's sub)`)
  authorizeCall(caller, endpoint, tenant, gateway.callers.apps)
  return { user: caller.sub, anonymous: caller.isAnonymous }
}
