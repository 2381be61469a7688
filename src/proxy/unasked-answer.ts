/**
 * Answers a backend may send that the gateway never asked for, which undici (7.x) cannot step
 * over: it destroys the connection with a bare `SocketError` ('bad response' for a `100 Continue`
 * when no Expect was sent, 'bad upgrade' for a `101` when no upgrade was asked), which read as
 * "connection closed by the server", blaming the wrong fact. RFC 9110 §15.2 wants a client to skip an unexpected 1xx;
 * undici has no option for it, so the caller gets a 502 naming the cause instead.
 */
import { GatewayError } from '../errors.js'

/** undici's messages for these answers (client-h1.js onHeadersComplete), by the SocketError's message. */
const UNASKED: Readonly<Record<string, string>> = {
  'bad response': 'the backend sent an unexpected 100 Continue (the gateway sends no Expect upstream, and its HTTP client cannot skip an unasked-for 100)',
  'bad upgrade': 'the backend switched protocols (101) although the gateway asked for no upgrade',
}

/** What the backend sent, when `err` is undici refusing an answer nobody asked for. */
function unaskedText(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null
  if (e?.code !== 'UND_ERR_SOCKET' || e.name !== 'SocketError' || typeof e.message !== 'string') return undefined
  return UNASKED[e.message]
}

/** True when `err` is undici refusing an answer: the backend read the request (never a stale connection's close). */
export function isUnaskedAnswer(err: unknown): boolean {
  return unaskedText(err) !== undefined
}

/** The error to answer with when `err` is undici refusing an answer nobody asked for; undefined otherwise. */
export function unaskedAnswer(err: unknown, endpoint: string): GatewayError | undefined {
  const text = unaskedText(err)
  return text === undefined ? undefined : new GatewayError('upstream_response_malformed', `endpoint "${endpoint}": ${text}`, { cause: err })
}
