/**
 * A request the gateway itself ended (a client limit, a drain's grace running out, a body that
 * turned malformed) carries the reason it ended with: that is what its access line and metrics
 * report, whatever failed after it (the aborted upstream call, the caller's socket closing). So do
 * the requests pipelined behind it, which its connection's closing leaves unserved: the gateway
 * ended them too, and they are not callers that left.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, type ErrorSurface } from '../errors.js'
import { callerAborted } from './outcome.js'
import { endWaiting, type Turn } from './pipelined.js'
import { writeError } from './write-error.js'

const expiries = new WeakMap<IncomingMessage, GatewayError>()

/** The limit that ended this request, if one did: it is the truth, whatever failed after it. */
export function expiryOf(req: IncomingMessage): GatewayError | undefined {
  return expiries.get(req)
}

/** Records why `req` ended; false when something already ended it (the first reason stands). */
export function markExpired(req: IncomingMessage, err: GatewayError): boolean {
  if (expiries.has(req)) return false
  expiries.set(req, err)
  return true
}

/** How endRequest ends a request. */
export interface EndOptions {
  surface?: ErrorSurface
  /** Also a response ended but not yet sent (a caller that stopped reading). */
  evenIfEnded?: boolean
  /** What the requests waiting behind it on its connection end with (default: `err`'s reason, saying they never started). */
  waiting?: GatewayError
}

/**
 * Ends the request `res` answers with `err`: its error answer while nothing of a response was
 * sent (the connection closes after it), else its connection cut; the requests pipelined behind
 * it end with it, unserved (endWaiting). False when it had already ended.
 */
export function endRequest(res: ServerResponse, err: GatewayError, o: EndOptions = {}): boolean {
  const req = res.req
  if ((res.writableEnded && !o.evenIfEnded) || !markExpired(req, err)) return false
  if (res.headersSent) req.socket.destroy()
  else writeError(res, err, o.surface ?? 'proxy', { close: true })
  endWaiting(req.socket, o.waiting ?? new GatewayError(err.reason, `not started: it waited its turn behind a request on its connection that the gateway ended, and the connection with it (${err.message}); it was not sent upstream`))
  return true
}

/**
 * Waits for `req`'s turn (`turn`, from enter). Let go unserved, it throws why: the gateway's
 * ending of its connection (recorded as this request's own), else its caller's leaving.
 */
export async function awaitTurn(req: IncomingMessage, turn: Promise<Turn>): Promise<void> {
  const go = await turn
  if (go === true) return
  if (go) markExpired(req, go)
  throw expiryOf(req) ?? callerAborted()
}
