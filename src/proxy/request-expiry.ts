/**
 * A request the gateway itself ended (a client limit, a drain's grace running out) carries the
 * reason it ended with: that is what its access line and metrics report, whatever failed after
 * it (the aborted upstream call, the caller's socket closing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ErrorSurface, GatewayError } from '../errors.js'
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

/**
 * Ends the request `res` answers with `err`: its error answer while nothing of a response was
 * sent (the connection closes after it), else its connection cut; `evenIfEnded`, also a response
 * ended but not yet sent (a caller that stopped reading). False when it had already ended.
 */
export function endRequest(res: ServerResponse, err: GatewayError, surface: ErrorSurface = 'proxy', evenIfEnded = false): boolean {
  const req = res.req
  if ((res.writableEnded && !evenIfEnded) || !markExpired(req, err)) return false
  if (res.headersSent) req.socket.destroy()
  else writeError(res, err, surface, { close: true })
  return true
}
