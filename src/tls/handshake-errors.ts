/**
 * The one table from Node / OpenSSL / undici error codes to a Reason and a sentence an
 * operator understands. Everything upstream-related that goes wrong passes through here.
 */
import { GatewayError, type Reason } from '../errors.js'
import { PIN_MISMATCH } from './verify.js'
import { describeMalformedResponse } from './malformed-response.js'

interface Cause {
  reason: Reason
  text: string
}

// Node reports a FIN during the TLS handshake as ECONNRESET too ("Client network socket
// disconnected before secure TLS connection was established"), without the syscall a real
// RST carries: a code of our own keeps "closed" and "reset" apart.
const CLOSED_IN_HANDSHAKE = 'ERR_GATEWAY_CLOSED_IN_HANDSHAKE'

const untrusted = (text: string): Cause => ({ reason: 'upstream_cert_untrusted', text: `server certificate untrusted (${text})` })

/**
 * Every verification code Node can report (node/src/crypto/crypto_common.cc X509ErrorCode:
 * the X509_V_ERR_* names without the prefix, and UNSPECIFIED for any other) has its line,
 * so no server-certificate failure is ever reported as a bare OpenSSL code.
 */
export const VERIFY_CODES: Record<string, Cause> = {
  UNABLE_TO_GET_ISSUER_CERT: untrusted('issuer unknown'),
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: untrusted("issuer not among the endpoint's roots"),
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: untrusted("does not chain to the endpoint's roots"),
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: untrusted('its signature cannot be decoded'),
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: untrusted("the issuer's public key cannot be decoded"),
  CERT_SIGNATURE_FAILURE: untrusted('bad signature'),
  DEPTH_ZERO_SELF_SIGNED_CERT: untrusted('self-signed'),
  SELF_SIGNED_CERT_IN_CHAIN: untrusted('self-signed certificate in chain'),
  CERT_CHAIN_TOO_LONG: untrusted('chain too long'),
  INVALID_CA: untrusted('an issuer is not a CA'),
  PATH_LENGTH_EXCEEDED: untrusted("a CA's path length constraint is exceeded"),
  CERT_UNTRUSTED: untrusted('its root is not trusted for server authentication'),
  ERROR_IN_CERT_NOT_BEFORE_FIELD: untrusted('malformed notBefore date'),
  ERROR_IN_CERT_NOT_AFTER_FIELD: untrusted('malformed notAfter date'),
  CERT_HAS_EXPIRED: { reason: 'upstream_cert_expired', text: 'server certificate expired' },
  CERT_NOT_YET_VALID: { reason: 'upstream_cert_not_yet_valid', text: 'server certificate not yet valid' },
  INVALID_PURPOSE: { reason: 'upstream_cert_wrong_purpose', text: 'server certificate not valid for server authentication (its extended key usage lacks serverAuth)' },
  CERT_REJECTED: { reason: 'upstream_cert_wrong_purpose', text: 'server certificate rejected: its root is marked to reject server authentication' },
  CERT_REVOKED: { reason: 'upstream_cert_revoked', text: 'server certificate revoked (CRL)' },
  HOSTNAME_MISMATCH: { reason: 'upstream_hostname_mismatch', text: 'server certificate hostname mismatch' },
  // Node's `crl` option turns on X509_V_FLAG_CRL_CHECK_ALL: every CA level needs a CRL.
  UNABLE_TO_GET_CRL: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: no CRL for a CA of its chain (tls.crl needs one from every CA, root included)' },
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: { reason: 'upstream_cert_untrusted', text: "server certificate unverifiable: a CRL's signature cannot be decoded" },
  CRL_SIGNATURE_FAILURE: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: a CRL has a bad signature' },
  CRL_NOT_YET_VALID: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: a CRL is not yet valid' },
  CRL_HAS_EXPIRED: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: the CRL has expired' },
  ERROR_IN_CRL_LAST_UPDATE_FIELD: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: a CRL has a malformed lastUpdate' },
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: { reason: 'upstream_cert_untrusted', text: 'server certificate unverifiable: a CRL has a malformed nextUpdate' },
  OUT_OF_MEM: { reason: 'upstream_tls_failed', text: 'certificate verification ran out of memory' },
  UNSPECIFIED: untrusted('verification failed for a reason OpenSSL does not name'),
}

// A module constant (not per request).
const BY_CODE: Record<string, Cause> = {
  ...VERIFY_CODES,
  ERR_TLS_CERT_ALTNAME_INVALID: { reason: 'upstream_hostname_mismatch', text: 'server certificate hostname mismatch' },
  [PIN_MISMATCH]: { reason: 'upstream_pin_mismatch', text: 'server certificate pin mismatch' },
  ERR_GATEWAY_ORIGIN_MISMATCH: { reason: 'internal', text: "refused to dial a destination other than the endpoint's origin" },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert bad_certificate)' },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert certificate_required)' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert certificate_unknown)' },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert unknown_ca)' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert certificate_expired)' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert certificate_revoked)' },
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert unsupported_certificate)' },
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert access_denied)' },
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: { reason: 'upstream_client_cert_rejected', text: 'client certificate rejected by the server (TLS alert decrypt_error)' },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: { reason: 'upstream_tls_version_refused', text: 'TLS version refused (TLS alert protocol_version)' },
  ERR_SSL_UNSUPPORTED_PROTOCOL: { reason: 'upstream_tls_version_refused', text: 'TLS version refused (no common protocol version)' },
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: { reason: 'upstream_tls_version_refused', text: 'TLS version refused (no protocols available)' },
  ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY: { reason: 'upstream_tls_version_refused', text: 'TLS parameters refused (TLS alert insufficient_security)' },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: { reason: 'upstream_tls_failed', text: 'TLS handshake failed (TLS alert handshake_failure)' },
  ERR_SSL_WRONG_VERSION_NUMBER: { reason: 'upstream_tls_failed', text: 'TLS handshake failed (the server did not answer TLS)' },
  ERR_GATEWAY_EGRESS_DENIED: { reason: 'egress_denied', text: 'destination refused by the egress policy' },
  ERR_GATEWAY_PROXY_FAILED: { reason: 'upstream_proxy_failed', text: 'upstream proxy (connector) failed' },
  ERR_GATEWAY_PROXY_TIMEOUT: { reason: 'upstream_timeout', text: 'connect timeout (upstream proxy)' },
  ERR_GATEWAY_PROXY_FD_EXHAUSTED: { reason: 'fd_exhausted', text: 'out of file descriptors (upstream proxy)' },
  ECONNREFUSED: { reason: 'upstream_connect_refused', text: 'connection refused' },
  ECONNRESET: { reason: 'upstream_connect_reset', text: 'connection reset by the server' },
  EPIPE: { reason: 'upstream_connect_reset', text: 'connection reset by the server (broken pipe)' },
  UND_ERR_SOCKET: { reason: 'upstream_connect_reset', text: 'connection closed by the server' },
  [CLOSED_IN_HANDSHAKE]: { reason: 'upstream_connect_reset', text: 'connection closed by the server during the TLS handshake' },
  ENOTFOUND: { reason: 'upstream_connect_failed', text: 'host name not found' },
  EAI_AGAIN: { reason: 'upstream_connect_failed', text: 'host name lookup failed (temporary)' },
  EHOSTUNREACH: { reason: 'upstream_connect_failed', text: 'host unreachable' },
  ENETUNREACH: { reason: 'upstream_connect_failed', text: 'network unreachable' },
  ETIMEDOUT: { reason: 'upstream_timeout', text: 'connect timeout' },
  UND_ERR_CONNECT_TIMEOUT: { reason: 'upstream_timeout', text: 'connect timeout' },
  UND_ERR_HEADERS_TIMEOUT: { reason: 'upstream_timeout', text: 'response timeout (no response headers in time)' },
  UND_ERR_BODY_TIMEOUT: { reason: 'upstream_timeout', text: 'response timeout (response body stalled)' },
  UND_ERR_HEADERS_OVERFLOW: { reason: 'upstream_headers_too_large', text: 'response headers too large' },
  // Only ever before the head (a body's failures are the relay's, outcome.ts): undici's parser names any fault after a
  // Content-Length line so, unless gateway/undici-parser-errors.ts could correct it.
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: { reason: 'upstream_response_malformed', text: 'malformed HTTP response: a header line after its Content-Length is not valid HTTP/1.1' },
  EMFILE: { reason: 'fd_exhausted', text: 'out of file descriptors (EMFILE): cannot open a connection' },
  ENFILE: { reason: 'fd_exhausted', text: 'system out of file descriptors (ENFILE): cannot open a connection' },
}

/** Codes of errors the gateway made itself, whose messages (no secrets) say which address, proxy answer or CONNECT it was. */
const OWN_MESSAGE_CODES = new Set(['ERR_GATEWAY_EGRESS_DENIED', 'ERR_GATEWAY_PROXY_FAILED', 'ERR_GATEWAY_PROXY_TIMEOUT', 'ERR_GATEWAY_PROXY_FD_EXHAUSTED'])

/** Out of descriptors in the error table's words (`out of file descriptors (EMFILE): cannot open a connection`). */
export const fdExhaustionText = (code: 'EMFILE' | 'ENFILE'): string => BY_CODE[code]?.text ?? code

/** Codes along the cause chain, outermost first (undici wraps socket errors). */
function codesOf(err: unknown): string[] {
  const codes: string[] = []
  let e: unknown = err
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const { code, syscall, message } = e as { code?: unknown; syscall?: unknown; message?: unknown }
    const closedInHandshake = code === 'ECONNRESET' && syscall === undefined && String(message).includes('before secure TLS connection')
    if (typeof code === 'string') codes.push(closedInHandshake ? CLOSED_IN_HANDSHAKE : code)
    e = (e as { cause?: unknown }).cause
  }
  return codes
}

function errorWithCode(err: unknown, code: string): unknown {
  let e: unknown = err
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    if ((e as { code?: unknown }).code === code) return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

function messageWithCode(err: unknown, code: string): string {
  const e = errorWithCode(err, code)
  return e instanceof Error ? e.message : code
}

/** Names the expected host and the names the certificate carries (public facts, never secrets). */
function hostnameMismatch(e: unknown): string {
  const { host, cert } = (e ?? {}) as { host?: unknown; cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } } }
  const expected = typeof host === 'string' ? `"${host}"` : 'the configured name'
  const sans = typeof cert?.subjectaltname === 'string' && cert.subjectaltname !== '' ? cert.subjectaltname : undefined
  const cn = typeof cert?.subject?.CN === 'string' ? `CN=${cert.subject.CN}` : undefined
  const names = [sans, cn].filter((n) => n !== undefined).join('; ') || 'no names'
  return `server certificate hostname mismatch: expected ${expected}, the certificate names ${names}`
}

/**
 * A failed TCP dial (a pass-through tunnel's) in the table's words: the reason and text the
 * endpoints' dials get for the same socket code (connection refused, reset, unreachable, out of
 * descriptors), the code said once (the table's words name it already for EMFILE and ENFILE), else
 * upstream_connect_failed with the code itself.
 */
export function describeDialFailure(code: string | undefined): { reason: Reason; text: string } {
  const known = code !== undefined ? BY_CODE[code] : undefined
  if (known && (known.reason.startsWith('upstream_connect_') || known.reason === 'fd_exhausted')) return { reason: known.reason, text: known.text.includes(`(${code})`) ? known.text : `${known.text} (${code})` }
  return { reason: 'upstream_connect_failed', text: code ?? 'connect failed' }
}

/** Maps any upstream failure to a GatewayError naming the endpoint and the cause. */
export function classifyUpstreamError(err: unknown, endpoint: string): GatewayError {
  if (err instanceof GatewayError) return err
  const codes = codesOf(err)
  // The most specific code wins: a TLS alert inside an undici "socket closed" error.
  const code = codes.slice().reverse().find((c) => c in BY_CODE) ?? codes.find((c) => c.startsWith('ERR_SSL_'))
  const cause = code ? BY_CODE[code] : undefined
  if (cause && code !== undefined && OWN_MESSAGE_CODES.has(code)) {
    return new GatewayError(cause.reason, `endpoint "${endpoint}": ${messageWithCode(err, code)}`, { cause: err })
  }
  if (cause?.reason === 'internal') return new GatewayError('internal', 'internal error', { cause: err })
  if (cause && code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new GatewayError(cause.reason, `endpoint "${endpoint}": ${hostnameMismatch(errorWithCode(err, code))}`, { cause: err })
  if (code === 'UNSPECIFIED') {
    // A code Node does not name (e.g. X509_V_ERR_KEYUSAGE_NO_CERTSIGN): OpenSSL's own sentence says which.
    return new GatewayError('upstream_cert_untrusted', `endpoint "${endpoint}": server certificate untrusted (OpenSSL: ${messageWithCode(err, code)})`, { cause: err })
  }
  if (cause) return new GatewayError(cause.reason, `endpoint "${endpoint}": ${cause.text}`, { cause: err })
  const malformed = describeMalformedResponse(err)
  if (malformed) return new GatewayError('upstream_response_malformed', `endpoint "${endpoint}": malformed HTTP response (${malformed.code}): ${malformed.text}`, { cause: err })
  if (code?.startsWith('ERR_SSL_')) {
    return new GatewayError('upstream_tls_failed', `endpoint "${endpoint}": TLS handshake failed (${code})`, { cause: err })
  }
  const detail = codes[0] ?? (err instanceof Error ? err.name : 'unknown error')
  return new GatewayError('upstream_connect_failed', `endpoint "${endpoint}": upstream request failed (${detail})`, { cause: err })
}

/** The failure reasons that count as TLS handshake failures in metrics: every upstream_cert_* and these five. */
type HandshakeReason = Extract<Reason, `upstream_cert_${string}`> | 'upstream_hostname_mismatch' | 'upstream_pin_mismatch' | 'upstream_client_cert_rejected' | 'upstream_tls_version_refused' | 'upstream_tls_failed'
// A Record, so a new upstream_cert_* reason not listed here fails to compile.
const HANDSHAKE: Record<HandshakeReason, 0> = {
  upstream_cert_untrusted: 0, upstream_cert_expired: 0, upstream_cert_not_yet_valid: 0, upstream_hostname_mismatch: 0, upstream_pin_mismatch: 0,
  upstream_cert_revoked: 0, upstream_cert_wrong_purpose: 0, upstream_client_cert_rejected: 0, upstream_tls_version_refused: 0, upstream_tls_failed: 0,
}
/** Every reason label of upstream_tls_handshake_failures_total. */
export const HANDSHAKE_REASONS = Object.keys(HANDSHAKE) as HandshakeReason[]

/** Whether a failure counts as a TLS handshake failure in metrics. */
export function isHandshakeReason(reason: Reason): reason is HandshakeReason {
  return Object.hasOwn(HANDSHAKE, reason)
}
