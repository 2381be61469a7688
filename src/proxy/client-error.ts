/**
 * Node's 'clientError' (a request its parser refused, or a header deadline) as the
 * GatewayError the one writer answers with; undefined when there is no one to answer
 * (the client reset the connection).
 */
import { maxHeaderSize } from 'node:http'
import { GatewayError } from '../errors.js'

/** The error to answer a refused request with, or undefined to just close. */
export function clientErrorOf(err: NodeJS.ErrnoException, configKey: string, headersMs: number): GatewayError | undefined {
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
