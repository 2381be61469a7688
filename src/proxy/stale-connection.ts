/**
 * When a failed upstream call is sent again. A server may close a pooled keep-alive connection
 * just as the gateway writes a request on it (its idle timeout ran out first, or its FIN is
 * still on the wire): the request fails before any response byte, and the server never acted
 * on it. Like Go's http.Transport, the gateway then sends the request again, on another
 * connection, but only where a second copy cannot do anything twice:
 * - the failed attempt went over a reused connection (a fresh connection that fails is a real
 *   fault, and the caller hears it);
 * - the connection was closed or reset under it, before any response byte (not a timeout,
 *   not a TLS alert);
 * - the method is idempotent (RFC 9110 §9.2.2), or the caller sent an Idempotency-Key;
 * - the body is absent or held whole: a streamed body is spent once sent.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { isUnaskedAnswer } from './unasked-answer.js'

/** At most this many more attempts per request (each one spends a stale connection). */
export const MAX_STALE_RETRIES = 2

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])
/** undici's "other side closed" / "closed", a reset, a write after the peer closed. */
const CLOSED_UNDER_REQUEST: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])

/** How the outbound body is held. */
export type BodyHolding = 'none' | 'held' | 'streamed'

/** True when sending this request twice cannot act twice (method or Idempotency-Key, and a body that can be sent again). */
export function isReplayable(method: string, headers: OutgoingHttpHeaders | IncomingHttpHeaders, body: BodyHolding): boolean {
  if (body === 'streamed') return false
  return IDEMPOTENT_METHODS.has(method) || headers['idempotency-key'] !== undefined || headers['x-idempotency-key'] !== undefined
}

/**
 * True for the failures of a connection closed under a request (not timeouts, TLS alerts or
 * refusals). undici closes the connection on an unasked-for 100 or 101 with the same code as a
 * stale close, but that backend answered: it read the request, so a second copy could act twice.
 */
export function isClosedUnderRequest(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && CLOSED_UNDER_REQUEST.has(code) && !isUnaskedAnswer(err)
}
