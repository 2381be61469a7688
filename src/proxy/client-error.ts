/**
 * Node's 'clientError' (a request its parser refused, or a header deadline) answered by
 * the one error writer; nothing is written when there is no one to answer (the client reset
 * the connection, or it is already being answered and closed).
 */
import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { GatewayError, type ErrorSurface } from '../errors.js'
import { repeatedHeader } from '../callers/index.js'
import { writeRawError } from './write-error.js'

/** Answers the parse errors and header deadlines of `server`; `onError` hears of each one answered. */
export function answerClientErrors(server: Server, o: { configKey: string; headersMs: number; surface: ErrorSurface; onError(err: GatewayError, socket: Duplex): void }): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Bytes after a request that asked to close (RFC 9112 §9.6: not processed). The requests
    // before them are being answered and the connection closes after the last answer; a 400
    // here would take those answers away (their upstream calls made all the same). Reading
    // stops, so what follows is never parsed or held.
    if (err.code === 'HPE_CLOSED_CONNECTION') return void socket.pause()
    const refused = clientErrorOf(err, o.configKey, o.headersMs)
    // Not writable: already answered and closing (a client leaving then is no new error).
    if (!refused || !socket.writable) return void socket.destroy()
    // A response already on its way on this socket cannot be followed by another one.
    const inProgress = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
    if (inProgress?.headersSent) socket.destroy()
    else writeRawError(socket, refused, o.surface)
    // After the answer is written: what the connection carried includes it.
    o.onError(refused, socket)
  })
}

/** The error to answer a refused request with, or undefined to just close. */
export function clientErrorOf(err: NodeJS.ErrnoException, configKey: string, headersMs: number): GatewayError | undefined {
  // node:https hands its TLS handshake failures on as 'clientError' too: no HTTP was parsed, so
  // there is no request to refuse and no HTTP answer a failed TLS session could carry. The
  // listeners' own 'tlsClientError' handlers report them.
  if (err.code?.startsWith('ERR_TLS_') || err.code?.startsWith('ERR_SSL_')) return undefined
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_INVALID_EOF_STATE': // the client closed in the middle of a request
      return undefined
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('request_timeout', `request headers did not arrive within ${headersMs / 1000} s (${configKey}.headers)`)
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('headers_too_large', `request headers exceed the ${maxHeaderSize / 1024} KiB limit`)
    default:
      return new GatewayError('bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`)
  }
}

/**
 * An HTTP/1.1 request without Host, or any with two Host lines (RFC 9112 §3.2), which the handlers
 * refuse themselves: Node's own refusal of the first (guardConnections turns it off) is a bare 400
 * without the error envelope, and Node keeps the first of two Host lines where another hop may not.
 */
export function hostRefusal(req: IncomingMessage): GatewayError | undefined {
  if (req.headers.host !== undefined) return repeatedHeader(req, 'host', 'Host')
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return undefined
  // As Node's own refusal did: a request this malformed ends the connection too.
  return new GatewayError('bad_request', 'an HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2)', { headers: { connection: 'close' } })
}
