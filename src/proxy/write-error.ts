/**
 * The one writer of gateway-made error responses: on an HTTP response, and on a raw socket
 * (CONNECT refusals, requests Node's parser refused, timeouts before a request exists).
 * Both send errorResponse(): the JSON envelope with its byte length and the challenge header.
 */
import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { nodeHttp } from '../process/index.js'
import { errorResponse, GatewayError, type ErrorSurface } from '../errors.js'
import { endWaitingBehindCut } from './pipelined.js'
import { closeLingering } from './lingering-close.js'

/** Normalises anything thrown into a GatewayError. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError('internal', 'internal error', { cause: err })
}

/** How an error response is written. */
export interface WriteErrorOptions {
  requestId?: string
  /** Close the connection after the response (the request body was not read to its end): it closes lingering (lingering-close.ts), as after every answer that closes it. */
  close?: boolean
}

/**
 * An error a browser is answered with as an HTML page instead of the JSON envelope: same status,
 * `headers` (the page's) with it; the access line reads the error as for any other.
 */
export class PageError extends GatewayError {
  readonly page: string
  constructor(err: GatewayError, page: string, headers: Readonly<Record<string, string>>) {
    // The cause too: an internal error's stack is what its access line shows.
    super(err.reason, err.message, { cause: err.cause, headers: Object.assign({}, err.headers, headers), callerMessage: err.callerMessage })
    this.page = page
  }
}

/** Writes the JSON error (a PageError's page); if the response already started, the connection is cut instead. */
export function writeError(res: ServerResponse, err: GatewayError, surface: ErrorSurface, o: WriteErrorOptions = {}): number {
  const r = errorResponse(err, surface, o)
  if (err instanceof PageError) Object.assign(r, { body: err.page, headers: Object.assign(r.headers, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(err.page)) }) })
  if (res.headersSent) {
    endWaitingBehindCut(res, err)
    res.destroy(err)
    return r.status
  }
  res.writeHead(r.status, r.headers)
  res.end(r.body)
  return r.status
}

/** Writes the JSON error as a whole HTTP/1.1 response on a raw socket, then closes it. */
export function writeRawError(socket: Duplex, err: GatewayError, surface: ErrorSurface): number {
  const r = errorResponse(err, surface, { close: true })
  if (!socket.writable) {
    socket.destroy()
    return r.status
  }
  const head = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  socket.write(`HTTP/1.1 ${r.status} ${nodeHttp().STATUS_CODES[r.status] ?? 'Error'}\r\n${head}\r\n${r.body}`)
  // A client that ignores the close must not keep the socket half-open.
  closeLingering(socket)
  return r.status
}
