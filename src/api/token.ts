/**
 * POST /gateway/token: a caller app exchanges a JWT or JWE assertion for a short-lived
 * bearer token. GET /gateway/jwks.json publishes the gateway's JWE encryption keys.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, isGatewayError, methodNotAllowed, statusOf } from '../errors.js'
import { authFailureLabel, exchangeAssertion, publicJwks, type AuthFailure, type BearerStores, type Caller } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import type { Store } from '../store/index.js'
import { callerAddress } from '../proxy/caller-address.js'
import { createExchangeThrottle } from './exchange-throttle.js'
import { WAIT_FOR_PLACE_MS } from './settled-throttle.js'
import { whileConnected } from './while-connected.js'
import { readJson, sendJson } from './http.js'

export interface TokenRouteOptions {
  /** Where a snapshot's bearers live (the runtime's store, the snapshot's sealers). */
  stores: (gateway: Gateway) => BearerStores | undefined
  onAuthFailure?: (label: AuthFailure) => void
  /** A known user's assertion carried identityToMerge: move the anonymous user's data. */
  onIdentityMerge?: (caller: Caller, gateway: Gateway) => Promise<void>
  /** Where failed exchanges are counted (the runtime's store): every worker and replica on it shares the count; absent, this process alone. */
  throttleStore?: () => Store | undefined
}

/**
 * Whether an exchange that threw counts as a failed exchange of its address: a refusal of the
 * caller's own (4xx), but not a failure of the gateway's own (a store away, a bug: 5xx or not a
 * GatewayError) nor a caller that left (caller_aborted, 499: the connection closed before its
 * body was read, so nothing was verified; its body read fails with a plain error, counted as
 * nothing either). A caller that leaves after its assertion was verified and refused still counts.
 */
export const countsAsFailedExchange = (err: unknown): boolean => isGatewayError(err) && err.reason !== 'caller_aborted' && statusOf(err.reason, 'api') < 500

/** Handles /gateway/token and /gateway/jwks.json; false for other paths. */
export function createTokenRoutes(o: TokenRouteOptions) {
  // One per process, for its life (reloads keep the in-process count); the count itself is in the store.
  const throttle = createExchangeThrottle(o.throttleStore ?? (() => undefined))
  return async (req: IncomingMessage, res: ServerResponse, gateway: Gateway, path: string): Promise<boolean> => {
    if (path === '/gateway/jwks.json') {
      // HEAD too (RFC 9110 §9.1): Node sends a HEAD answer's headers without its body.
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD'], `${req.method ?? ''} /gateway/jwks.json is not served`)
      sendJson(res, 200, publicJwks(gateway.callers.keys))
      return true
    }
    if (path !== '/gateway/token') return false
    if (req.method !== 'POST') throw methodNotAllowed(['POST'], `${req.method ?? ''} /gateway/token is not served`)
    const stores = o.stores(gateway)
    if (!gateway.callers.enabled || !stores) throw new GatewayError('not_found', 'caller apps are not configured on this gateway')
    // Asked before the body is read: a throttled address costs no parsing, no signature check, no decryption.
    const max = gateway.config.callers.failedExchangesPerMinute
    const attempt = await whileConnected(req, 'POST /gateway/token', (gone) => throttle.admit(callerAddress(req.socket), max, gone))
    if (!attempt.admitted) {
      o.onAuthFailure?.('token_exchange_throttled')
      const why = attempt.inFlight ? `failed exchanges and exchanges in flight from this address held all ${max} places for ${WAIT_FOR_PLACE_MS / 1000} s (at most ${max} may fail a minute)` : `too many failed exchanges from this address (${max} a minute)`
      const msg = `POST /gateway/token: ${why}: it may try again in ${attempt.retryAfterSec} s; other addresses are not affected`
      throw new GatewayError('token_exchange_throttled', msg, { headers: { 'retry-after': String(attempt.retryAfterSec) } })
    }
    try {
      sendJson(res, 200, await exchange(req, gateway, stores, o))
      await attempt.settle(false)
      return true
    } catch (err) {
      const label = authFailureLabel(err)
      if (label) o.onAuthFailure?.(label)
      await attempt.settle(countsAsFailedExchange(err))
      throw err
    }
  }
}

/** Reads the body's assertion and exchanges it for a bearer. */
async function exchange(req: IncomingMessage, gateway: Gateway, stores: BearerStores, o: TokenRouteOptions) {
  const callers = gateway.callers
  const body = await readJson(req)
  const assertion = body.assertion
  if (typeof assertion !== 'string' || assertion === '') throw new GatewayError('caller_credentials_missing', 'body must be {"assertion": "<JWT or JWE>"}')
  const { token } = await exchangeAssertion(
    assertion,
    { apps: callers.apps, keys: callers.keys, clockSkewSec: gateway.config.callers.clockSkewSec, claimAliasPrefix: callers.claimAliasPrefix, replay: stores.store },
    stores,
    gateway.config.callers.bearerTtlSec,
    gateway.config.callers.anonymousTtlMs / 1000,
    // The merge before the bearer is handed out: one that fails (the store away) leaves no
    // bearer for a caller told the exchange failed, and gives its jti back for the retry.
    async (asserted) => {
      if (asserted.identityToMerge !== undefined && !asserted.isAnonymous) await o.onIdentityMerge?.(asserted, gateway)
    },
  )
  return token
}
