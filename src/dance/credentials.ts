/**
 * Credentials of the OAuth API routes: the operator's `callers.adminToken`, or a caller
 * app's bearer (from POST /gateway/token, or a JWT without `jti`) for the user it names.
 * Both travel as `Authorization: Bearer …`. The admin token is compared only under the
 * failure throttle (api/settled-throttle.ts): past its settled wrong attempts from one source
 * address, that address gets 429 before any comparison, right token or wrong; right tokens in
 * flight at once are never counted against it (a console in several tabs, a scraper).
 */
import type { IncomingMessage } from 'node:http'
import { GatewayError, isGatewayError } from '../errors.js'
import { authorizeCall, resolveBearer, type AssertedCaller, type BearerStores } from '../callers/index.js'
import { bearerResolveOptions, type Gateway } from '../gateway/index.js'
import { bearerFrom } from '../api/http.js'
import { sameSecret } from '../api/same-secret.js'
import { createSettledThrottle, WAIT_FOR_PLACE_MS, type SettledThrottle } from '../api/settled-throttle.js'
import { whileConnected } from '../api/while-connected.js'
import type { Store } from '../store/index.js'
import { callerAddress } from '../proxy/caller-address.js'

/** Who is calling an OAuth API route. */
export type ApiCredential = { readonly kind: 'admin' } | { readonly kind: 'caller'; readonly caller: AssertedCaller }

/** The throttle every comparison of callers.adminToken goes through, and what to tell when it refuses. */
export interface AdminGuard {
  readonly throttle: SettledThrottle
  /** A refusal (429), for the caller-auth failures metric. */
  readonly onThrottled?: () => void
}

/** Wrong admin tokens allowed per source address (IPv6: per /64) in a minute. */
export const ADMIN_MAX_WRONG_PER_MINUTE = 20
// Far more addresses than operators; a flood from more evicts the least recent from the in-process count.
const MAX_THROTTLED_ADDRESSES = 10_000

/** The guard of one process: counts in `store()` when there is one, else in this process only. */
export function createAdminGuard(store: () => Store | undefined, onThrottled?: () => void): AdminGuard {
  const throttle = createSettledThrottle({ name: 'oauth1-admin', max: ADMIN_MAX_WRONG_PER_MINUTE, maxAddresses: MAX_THROTTLED_ADDRESSES, store })
  return onThrottled ? { throttle, onThrottled } : { throttle }
}

/** True when `token` is the configured admin token (constant-time); only ever called under the throttle. */
function isAdminToken(admin: string, token: string): boolean {
  return admin !== '' && sameSecret(admin, token)
}

/**
 * Compares `token` with the admin token under the throttle: true when it is the admin token,
 * false when not (a failure, counted once settled); 429 when the source address has used up its
 * wrong attempts, before any comparison.
 */
async function checkAdminToken(req: IncomingMessage, admin: string, token: string, guard: AdminGuard, route: string, what = 'wrong admin tokens'): Promise<boolean> {
  const attempt = await whileConnected(req, route, (gone) => guard.throttle.admit(callerAddress(req.socket), gone))
  if (!attempt.admitted) {
    guard.onThrottled?.()
    const why = attempt.inFlight ? `${what} and attempts in flight from this address held all ${ADMIN_MAX_WRONG_PER_MINUTE} places for ${WAIT_FOR_PLACE_MS / 1000} s` : `too many ${what} from this address`
    const msg = `${route}: ${why} (${ADMIN_MAX_WRONG_PER_MINUTE} a minute): it may try again in ${attempt.retryAfterSec} s; other addresses are not affected`
    throw new GatewayError('admin_token_throttled', msg, { headers: { 'retry-after': String(attempt.retryAfterSec) } })
  }
  const right = isAdminToken(admin, token)
  await attempt.settle(!right)
  return right
}

/** Operator-only routes: the admin token, or 401/403 (429 once the address's wrong tokens are used up). */
export async function requireAdmin(req: IncomingMessage, gateway: Gateway, route: string, guard: AdminGuard): Promise<void> {
  const admin = gateway.config.callers.adminToken
  if (admin === undefined) throw new GatewayError('caller_not_allowed', `${route} is an operator route and callers.adminToken is not configured`)
  const token = bearerFrom(req)
  if (token === undefined) throw new GatewayError('caller_credentials_missing', `${route} needs Authorization: Bearer <callers.adminToken>`)
  if (!(await checkAdminToken(req, admin, token, guard, route))) throw new GatewayError('caller_credentials_invalid', `${route}: the bearer is not the admin token`)
}

// What a caller's bearer looks like: an opaque bearer from POST /gateway/token (32 bytes,
// 43 base64url characters) or a JWT / JWE in compact form (3 or 5 base64url parts).
const OPAQUE_BEARER = /^[A-Za-z0-9_-]{43}$/
const COMPACT_JOSE = /^[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2}(?:(?:\.[A-Za-z0-9_-]*){2})?$/

/** True when `token` has the shape of a caller's bearer (opaque bearer, JWT or JWE). */
export function hasCallerBearerShape(token: string): boolean {
  return OPAQUE_BEARER.test(token) || COMPACT_JOSE.test(token)
}

/**
 * False only when `token` cannot be the admin token by its shape alone: it looks like a
 * caller's bearer and the admin token does not. Such a bearer is not compared or counted, so
 * a caller's bearer refused for its own reasons (unknown, expired, a store outage) never
 * spends its address's wrong-admin-token budget; a guess at the admin token gains nothing,
 * as any token shaped like the admin token is compared (and counted).
 */
export function mayBeAdminToken(admin: string, token: string): boolean {
  return !hasCallerBearerShape(token) || hasCallerBearerShape(admin)
}

/** A caller-credential refusal (or a store that did not answer), as opposed to a fault to pass on. */
const isRefusal = (e: unknown): e is GatewayError =>
  isGatewayError(e) && ['caller_credentials_missing', 'caller_credentials_invalid', 'caller_not_allowed', 'jwt_replay', 'store_unavailable'].includes(e.reason)

/**
 * The admin token or a registered caller's bearer; anything else is a 401 challenge. A
 * caller's bearer is tried first (it tells nothing about the admin token, so a throttled
 * address keeps its callers); only a bearer that is neither counts as a wrong attempt.
 */
export async function apiCredential(req: IncomingMessage, gateway: Gateway, stores: BearerStores | undefined, route: string, guard: AdminGuard): Promise<ApiCredential> {
  const token = bearerFrom(req)
  if (token === undefined) throw new GatewayError('caller_credentials_missing', `${route} needs Authorization: Bearer <caller bearer or admin token>`)
  let notCaller = new GatewayError('caller_credentials_invalid', `${route}: the bearer is not the admin token (no caller apps are configured)`)
  if (gateway.callers.enabled && stores) {
    try {
      const caller = await resolveBearer(token, stores, bearerResolveOptions(gateway))
      return { kind: 'caller', caller }
    } catch (e) {
      if (!isRefusal(e)) throw e
      notCaller = e
    }
  }
  const admin = gateway.config.callers.adminToken
  if (admin !== undefined && mayBeAdminToken(admin, token) && (await checkAdminToken(req, admin, token, guard, route, 'bearers that are neither the admin token nor a caller\'s'))) return { kind: 'admin' }
  throw notCaller
}

/** A caller may start the dance only for its own user, on an endpoint (and tenant) its app may use. */
export function callerMayAuthorize(cred: ApiCredential, gateway: Gateway, endpoint: string, tenant: string | undefined, user: string | undefined): { user: string; anonymous: boolean } | undefined {
  if (cred.kind === 'admin') return undefined
  const { caller } = cred
  if (user !== undefined && user !== caller.sub) throw new GatewayError('caller_not_allowed', `caller app "${caller.appId}" may start an authorization only for its own user (the bearer's sub)`)
  authorizeCall(caller, endpoint, tenant, gateway.callers.apps)
  return { user: caller.sub, anonymous: caller.isAnonymous }
}
