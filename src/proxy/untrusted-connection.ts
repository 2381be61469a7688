/**
 * The one rule for requests on a TLS listener whose caller trust a reload changed: a request on
 * a connection the trust in force would have refused at its handshake (requireClientCert, and no
 * certificate its clientCa verifies) is refused, as a fresh start with the same files refuses the
 * connection. Proxied requests and CONNECT get 407, the gateway API, route mode and the admin
 * listener 401 (the challenge surfaces of every caller-credential failure), always with
 * `Connection: close`: the caller reconnects and meets the handshake. At the reload itself the
 * idle connections and pass-through tunnels it refuses are closed (not one with a request partly
 * received: request-progress.ts; that request is refused once complete).
 */
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { authFailureLabel, type AuthFailure } from '../callers/index.js'
import { admittedByCallerTrust, onCallerTrustChange } from '../tls/index.js'
import type { ConnectionGuard } from './connection-guard.js'

/** Which listener's tls settings a refusal names. */
export type TrustKey = 'listen.tls' | 'admin.tls'

/** The refusal of a request on `connection` (the caller's TLS connection to the listener), or undefined when admitted. */
export function untrustedConnection(connection: object, key: TrustKey): GatewayError | undefined {
  if (admittedByCallerTrust(connection)) return undefined
  return new GatewayError(
    'caller_certificate_required',
    `${key}.requireClientCert: this listener requires a client certificate trusted by its clientCa, which a reload changed, and this connection has none; reconnect with one`,
  )
}

/** Connections already counted: one answer goes out on a refused connection, which then closes. */
const counted = new WeakSet<object>()

/**
 * The same, counted (caller_auth_failures_total{reason="certificate_required"}) when refused, once
 * per connection: requests pipelined behind the refused one (the admin listener's run at once) are
 * never answered, the connection closing after the first refusal.
 */
export function refuseUntrusted(connection: object, key: TrustKey, onAuthFailure: ((label: AuthFailure) => void) | undefined): GatewayError | undefined {
  const refusal = untrustedConnection(connection, key)
  if (refusal && !counted.has(connection)) {
    counted.add(connection)
    onAuthFailure?.(authFailureLabel(refusal) ?? 'invalid')
  }
  return refusal
}

/**
 * At each reload that changes `server`'s caller trust, closes the idle connections and tracked
 * tunnels of `guard` (and its adopted guards) that trust refuses, judged by `connectionOf` (an
 * intercepted tunnel's inner connection: by its CONNECT's), so pools reconnect and meet the handshake.
 */
export function closeUntrustedOnReload(server: object, guard: Pick<ConnectionGuard, 'closeRefused'>, connectionOf: (socket: Duplex) => object = (s) => s): void {
  onCallerTrustChange(server, () => guard.closeRefused((s) => !admittedByCallerTrust(connectionOf(s))))
}
