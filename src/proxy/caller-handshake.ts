/**
 * A caller's TLS handshake with the gateway that never completes: inside an intercepted CONNECT
 * tunnel (watched here, bounded by listen.timeouts.tlsHandshake), or with the listener itself
 * (`listen.tls`, listener-handshake.ts; Node bounds it). Either carries no request, so without a
 * report a caller that does not trust the gateway's certificate, speaks plain HTTP or goes silent
 * leaves no access line. Both are worded and recorded here, one way.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { GatewayError, statusOf } from '../errors.js'
import type { SpanIds } from '../tracing/index.js'
import type { RequestFacts } from './pipeline.js'
import type { RequestRecord } from './request-record.js'
import { recordCallerConnection } from './caller-connection.js'
import { newRequestId } from './request-id.js'

/** Where a handshake happens: what the messages open with, and what the caller connected to. */
export interface HandshakeSite {
  /** `CONNECT host:port` (a configured host), or `listen.tls`. */
  readonly name: string
  readonly kind: 'tunnel' | 'listener'
}

/** The words that differ between the two sites. */
const WORDS = {
  tunnel: { into: 'into the tunnel', conduit: 'the tunnel', served: 'the minted certificate', issuer: 'the interception CA' },
  listener: { into: 'to the TLS listener', conduit: 'the connection', served: "the listener's certificate", issuer: "the CA of the listener's certificate (listen.tls.cert)" },
} as const

/** What a few alerts usually mean on the gateway's side of a handshake. */
function hint(alert: string, site: HandshakeSite): string | undefined {
  const w = WORDS[site.kind]
  if (alert === 'unknown_ca') return `the caller does not trust ${w.issuer}`
  if (alert === 'bad_certificate' || alert === 'certificate_unknown') return `the caller refused ${w.served}; does it trust ${w.issuer}?`
  return undefined
}

/** The failure as said in the message: the alert the caller sent, or what OpenSSL saw. */
function failure(code: string, site: HandshakeSite): string {
  if (code === 'ERR_SSL_HTTP_REQUEST') return `the caller sent plain HTTP ${WORDS[site.kind].into}, not TLS (ERR_SSL_HTTP_REQUEST)`
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'the caller did not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER)'
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'the caller sent no certificate, and listen.tls.requireClientCert asks for one (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)'
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/.exec(code)?.[1]?.toLowerCase()
  if (alert === undefined) return code
  const said = hint(alert, site)
  return `TLS alert ${alert} from the caller${said === undefined ? '' : `: ${said}`}`
}

/** A handshake that failed for `what` (400: the caller's fault; nothing is sent back). */
export const handshakeFailedError = (site: HandshakeSite, what: string, cause?: unknown): GatewayError =>
  new GatewayError('bad_request', `${site.name}: tls_handshake_failed: ${what}`, { cause })

export const handshakeTimeoutError = (site: HandshakeSite, limitMs: number): GatewayError =>
  new GatewayError('request_timeout', `${site.name}: tls_handshake_timeout: the caller did not complete its TLS handshake within ${limitMs / 1000} s (listen.timeouts.tlsHandshake)`)

export const handshakeAbortedError = (site: HandshakeSite): GatewayError =>
  new GatewayError('caller_aborted', `${site.name}: tls_handshake_aborted: the caller closed ${WORDS[site.kind].conduit} before completing its TLS handshake`)

/** The error a handshake ended with, as the access line reports it. */
export function callerHandshakeError(err: NodeJS.ErrnoException, site: HandshakeSite, limitMs: number): GatewayError {
  const code = err.code ?? ''
  if (code === 'ECONNRESET' || code === 'EPIPE') return handshakeAbortedError(site)
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return handshakeTimeoutError(site, limitMs)
  // The codes are OpenSSL's (a closed set), never bytes the caller chose.
  if (code.startsWith('ERR_SSL_')) return handshakeFailedError(site, failure(code, site), err)
  // Anything else is the gateway's own failure (minting a leaf for the SNI name, say).
  return new GatewayError('internal', `${site.name}: tls_handshake_failed: internal error`, { cause: err })
}

/** What a failed handshake's record says besides its error. */
export interface HandshakeRecordOptions {
  mode: RequestRecord['mode']
  method: string
  /** performance.now() when the caller's connection (or CONNECT) began. */
  startedMs: number
  facts: RequestFacts
  /** The caller's TCP connection: its bytes either way are the record's. */
  connection?: Socket
  /** The span the handshake belongs to (a tunnel's), whose ids the line carries. */
  span?: SpanIds
}

/** The one access line and requests_total sample of a handshake that never completed. */
export function handshakeRecord(error: GatewayError, o: HandshakeRecordOptions): RequestRecord {
  const r: RequestRecord = { id: newRequestId(), mode: o.mode, method: o.method, status: statusOf(error.reason, 'proxy'), durationMs: performance.now() - o.startedMs, facts: o.facts, error, handshake: true }
  if (o.connection) recordCallerConnection(o.connection, r)
  if (o.span) r.span = o.span
  return r
}

/** How one tunnel's handshake is watched. */
export interface CallerHandshakeOptions {
  site: HandshakeSite
  /** listen.timeouts.tlsHandshake in ms; 0: unbounded. */
  limitMs: number
  /** The limit closed the tunnel (counted as a client timeout). */
  onTimeout(): void
  /** Once, when the handshake ends without completing; not when the gateway closes the tunnel itself (drain). */
  onFailed(error: GatewayError): void
}

/** Watches `tls` (a tunnel's, which no server watches) until its handshake completes or ends. */
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
    settle(handshakeTimeoutError(o.site, o.limitMs))
    o.onTimeout()
    tls.destroy()
  }, o.limitMs) : undefined
  tls.once('secure', () => settle())
  tls.once('error', (err: NodeJS.ErrnoException) => settle(callerHandshakeError(err, o.site, o.limitMs)))
  // The caller's FIN: Node reports no error for it on a server socket.
  tls.once('end', () => settle(handshakeAbortedError(o.site)))
  // Closed by the gateway itself (drain): not the caller's failure, no line.
  tls.once('close', () => settle())
}
