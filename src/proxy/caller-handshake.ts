/**
 * The caller's TLS handshake inside an intercepted CONNECT tunnel: bounded by
 * listen.timeouts.tlsHandshake, and reported once when it never completes. Such a tunnel
 * carries no inner request, so without this report a caller that does not trust the
 * interception CA, speaks plain HTTP into the tunnel or goes silent leaves no access line.
 */
import type { TLSSocket } from 'node:tls'
import { GatewayError } from '../errors.js'

/** How one tunnel's handshake is watched. */
export interface CallerHandshakeOptions {
  /** The CONNECT's `host:port` (a configured host), named in the messages. */
  authority: string
  /** listen.timeouts.tlsHandshake in ms; 0: unbounded. */
  limitMs: number
  /** The limit closed the tunnel (counted as a client timeout). */
  onTimeout(): void
  /** Once, when the handshake ends without completing; not when the gateway closes the tunnel itself (drain). */
  onFailed(error: GatewayError): void
}

/** What a few alerts usually mean on this side of an interception. */
const HINTS: Record<string, string> = {
  unknown_ca: 'the caller does not trust the interception CA',
  bad_certificate: 'the caller refused the minted certificate; does it trust the interception CA?',
  certificate_unknown: 'the caller refused the minted certificate; does it trust the interception CA?',
}

/** The failure as said in the message: the alert the caller sent, or what OpenSSL saw. */
function failure(code: string): string {
  if (code === 'ERR_SSL_HTTP_REQUEST') return 'the caller sent plain HTTP into the tunnel, not TLS (ERR_SSL_HTTP_REQUEST)'
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'the caller did not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER)'
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/.exec(code)?.[1]?.toLowerCase()
  if (alert === undefined) return code
  const hint = HINTS[alert]
  return `TLS alert ${alert} from the caller${hint === undefined ? '' : `: ${hint}`}`
}

/** The error a handshake ended with, as the access line reports it. */
export function callerHandshakeError(err: NodeJS.ErrnoException, authority: string): GatewayError {
  const code = err.code ?? ''
  if (code === 'ECONNRESET' || code === 'EPIPE') return closedError(authority)
  // The codes are OpenSSL's (a closed set), never bytes the caller chose.
  if (code.startsWith('ERR_SSL_')) return new GatewayError('bad_request', `CONNECT ${authority}: tls_handshake_failed: ${failure(code)}`, { cause: err })
  // Anything else is the gateway's own failure (minting a leaf for the SNI name, say).
  return new GatewayError('internal', `CONNECT ${authority}: tls_handshake_failed: internal error`, { cause: err })
}

const closedError = (authority: string): GatewayError =>
  new GatewayError('caller_aborted', `CONNECT ${authority}: tls_handshake_aborted: the caller closed the tunnel before completing its TLS handshake`)

/** Watches `tls` until its handshake completes or ends. */
export function watchCallerHandshake(tls: TLSSocket, o: CallerHandshakeOptions): void {
  let settled = false
  const settle = (error?: GatewayError): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (error) o.onFailed(error)
  }
  // A caller that never finishes (or never starts) its handshake holds a socket: bounded.
  const timer = o.limitMs > 0 ? setTimeout(() => {
    settle(new GatewayError('request_timeout', `CONNECT ${o.authority}: tls_handshake_timeout: the caller did not complete its TLS handshake within ${o.limitMs / 1000} s (listen.timeouts.tlsHandshake)`))
    o.onTimeout()
    tls.destroy()
  }, o.limitMs) : undefined
  tls.once('secure', () => settle())
  tls.once('error', (err: NodeJS.ErrnoException) => settle(callerHandshakeError(err, o.authority)))
  // The caller's FIN: Node reports no error for it on a server socket.
  tls.once('end', () => settle(closedError(o.authority)))
  // Closed by the gateway itself (drain): not the caller's failure, no line.
  tls.once('close', () => settle())
}
