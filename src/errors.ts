/**
 * The gateway's error vocabulary. Every error a request can end with is a GatewayError
 * carrying a closed `reason`; the HTTP status lives only in STATUS below, so no throw
 * site decides a status code on its own.
 */

/** A caller-credential failure: 407 on the proxy path, 401 on route mode and the gateway API. */
export type Challenge = 'challenge'

/** The only place reasons and their statuses live: `Reason` is this table's keys. */
const STATUS_TABLE = {
  bad_request: 400,
  path_escapes_base: 400,
  tenant_invalid: 400,
  credential_in_target: 400, // A gateway bearer (or the request's own credential) in the path or query: the URL goes upstream whole.
  // A user, tenant, credential or host sent twice: which one counts is not guessed.
  header_repeated: 400,
  // RFC 9110 §15.6.6: a request line naming a version other than HTTP/1.0 or 1.1.
  http_version_not_supported: 505,
  // RFC 9112 §6.1: a request transfer coding other than chunked, which the gateway does not decode.
  transfer_coding_not_implemented: 501,
  body_too_large: 413,
  // The process holds limits.maxBufferedTotal of bodies already: a moment later it may not.
  buffered_bodies_full: 503,
  request_timeout: 408,
  headers_too_large: 431,
  uri_too_long: 414, // RFC 9112 §3: a request line longer than the head limit Node's parser reads
  expectation_failed: 417,
  unsupported_payload: 400,
  unsupported_content_coding: 415, // RFC 9110 §15.5.16: a request body in a content coding the gateway does not read
  endpoint_not_configured: 403,
  // listen.waysIn leaves this way in (forward proxy, CONNECT, route mode, gateway API) out.
  way_in_disabled: 403,
  tunnel_outdated: 421,
  // RFC 9110 §7.4, §15.5.20: an inner request of a CONNECT tunnel naming another host or port than the tunnel's.
  misdirected_request: 421,
  egress_denied: 403,
  caller_credentials_missing: 'challenge',
  caller_credentials_invalid: 'challenge',
  caller_certificate_required: 'challenge',
  caller_not_allowed: 403,
  jwt_replay: 'challenge',
  oauth_token_missing: 401,
  oauth_provider_failed: 502,
  // A provider's 4xx to a callback's access-token exchange: the user's approval is bad or stale.
  oauth_authorization_refused: 403,
  // At the dance's link or callback: a link or authorization the gateway does not know (made up, expired, used).
  oauth_authorization_unknown: 400,
  // The browser that approves did not start the authorization (its cookie), or a form not from the link page.
  oauth_browser_mismatch: 403,
  oauth_access_denied: 403, // The user denied access at the provider.
  client_cert_expired: 502,
  client_cert_not_yet_valid: 502,
  server_roots_not_valid: 502,
  server_crl_not_valid: 502,
  upstream_cert_untrusted: 502,
  upstream_cert_expired: 502,
  upstream_cert_not_yet_valid: 502,
  upstream_hostname_mismatch: 502,
  upstream_pin_mismatch: 502,
  upstream_cert_revoked: 502,
  upstream_cert_wrong_purpose: 502,
  upstream_client_cert_rejected: 502,
  upstream_tls_version_refused: 502,
  upstream_tls_failed: 502,
  upstream_connect_refused: 502,
  upstream_connect_reset: 502,
  upstream_connect_failed: 502,
  upstream_proxy_failed: 502,
  upstream_proxy_auth_required: 502,
  upstream_timeout: 504,
  upstream_headers_too_large: 502,
  upstream_response_malformed: 502,
  upstream_response_truncated: 502,
  caller_aborted: 499, // nginx's "client closed request": never sent (the caller is gone), only logged and counted
  connection_closed_ahead: 444, // nginx's "connection closed without response": pipelined behind an answer that closed the connection, never started; only logged and counted
  fd_exhausted: 503,
  not_found: 404,
  console_sign_in_required: 401,
  console_request_refused: 403,
  admin_host_not_allowed: 421,
  console_sign_in_throttled: 429,
  admin_token_throttled: 429,
  token_exchange_throttled: 429,
  method_not_allowed: 405,
  unavailable: 503,
  // More than pipelined.ts's MAX_WAITING requests waiting on one connection: the caller's doing, not a fault of the gateway's.
  too_many_pipelined: 503,
  store_unavailable: 503,
  // The process was shutting down and its drain ended (drain.grace ran out, a second signal) before the answer.
  drain_ended: 503,
  internal: 500,
} satisfies Record<string, number | Challenge>

/** The closed set of reasons an error can carry. */
export type Reason = keyof typeof STATUS_TABLE

export const STATUS: { readonly [R in Reason]: number | Challenge } = STATUS_TABLE
export const REASONS = Object.keys(STATUS) as Reason[]

export interface GatewayErrorOptions {
  cause?: unknown
  headers?: Record<string, string>
  /** Extra JSON members merged into the error entry (e.g. `authorizeUrl`). Never secrets. */
  details?: Record<string, string | number | boolean>
  /** What the caller's error body says when it must say less than the message the log and probes keep (a store's address is internal topology). */
  callerMessage?: string
}

/** One flat class for every request-path error; the message names the failed fact, never a secret. */
export class GatewayError extends Error {
  readonly reason: Reason
  readonly headers: Readonly<Record<string, string>>
  readonly details: Readonly<Record<string, string | number | boolean>>
  /** The error body's message: `message` unless the caller must be told less. */
  readonly callerMessage: string

  constructor(reason: Reason, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GatewayError'
    this.reason = reason
    this.headers = options.headers ?? {}
    this.details = options.details ?? {}
    this.callerMessage = options.callerMessage ?? message
  }
}

/** The one way to refuse a method: a 405 MUST carry `Allow` (RFC 9110 §15.5.6); its message ends with the same list, made from it (`<refused>: use GET or HEAD`). */
export function methodNotAllowed(allowed: readonly [string, ...string[]], refused: string): GatewayError {
  const allow = allowed.join(', ')
  return new GatewayError('method_not_allowed', `${refused}: use ${allow.replace(/, (?=[^,]*$)/, ' or ')}`, { headers: { allow } })
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError

/** Where the error is answered decides how a credential challenge is spelled. */
export type ErrorSurface = 'proxy' | 'api'

export function statusOf(reason: Reason, surface: ErrorSurface): number {
  const s = STATUS[reason]
  if (s === 'challenge') return surface === 'proxy' ? 407 : 401
  return s
}

export interface ErrorEntry { msg: string; code: number; [extra: string]: string | number | boolean }
export interface ErrorBody { errors: ErrorEntry[] }
/** The JSON body of every gateway-made error: `{"errors":[{"msg":"…","code":N}]}`. */
export function toErrorBody(msg: string, code: number, details: Record<string, string | number | boolean> = {}): ErrorBody {
  return { errors: [Object.assign({}, details, { msg, code })] }
}

/** A gateway-made error response, ready for any transport (ServerResponse or raw socket). */
export interface ErrorResponse { status: number; headers: Record<string, string>; body: string }

/**
 * The one shape of every error response the gateway writes itself: the JSON envelope, its
 * byte length, the challenge header of a credential failure, and `connection: close` when
 * the connection must not be reused (an unread request body, a parse error, a timeout).
 */
export function errorResponse(err: GatewayError, surface: ErrorSurface, o: { requestId?: string; close?: boolean } = {}): ErrorResponse {
  const status = statusOf(err.reason, surface)
  const body = JSON.stringify(toErrorBody(err.callerMessage, status, err.details as Record<string, string | number | boolean>))
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...err.headers,
  }
  if (STATUS[err.reason] === 'challenge') {
    if (surface === 'proxy') headers['proxy-authenticate'] ??= 'Bearer realm="mtls-gateway"'
    else headers['www-authenticate'] ??= 'Bearer realm="mtls-gateway"'
  }
  // RFC 9110 §15.5.2: every 401 carries a challenge.
  if (status === 401) headers['www-authenticate'] ??= 'Bearer realm="mtls-gateway"'
  if (o.requestId) headers['x-request-id'] = o.requestId
  if (o.close) headers.connection = 'close'
  return { status, headers, body }
}

/** One problem found in a config file or bundle: everything an operator needs to find it. */
export interface ConfigProblem { file: string; line: number; column: number; key: string; msg: string }

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file
  return p.key ? `${where}: ${p.key}: ${p.msg}` : `${where}: ${p.msg}`
}

/** Config or bundle validation failure; feeds `check` and reload, never an HTTP response. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[]
  /** Files the refused config references, readable or not (a reload watches them: the missing one may come). */
  readonly files: readonly string[]
  constructor(problems: readonly ConfigProblem[], options: { files?: readonly string[] } = {}) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'ConfigError'
    this.problems = problems
    this.files = options.files ?? []
  }
}
