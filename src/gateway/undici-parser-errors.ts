/**
 * Three faults in what undici's HTTP/1.1 parser (7.x; 8.x too, as of 8.10) reports, corrected on its
 * Parser's prototype, which the first connection's socket leads to:
 * - `createError` answers ResponseContentLengthMismatchError for any parse error once a
 *   Content-Length line has been read, in the head too: a NUL, a bare CR or an obs-fold in a
 *   later header, a second Content-Length or `Content-Length: 10, 10` all read as "body shorter or
 *   longer than its Content-Length", blaming a body that never began. Until the final head is
 *   whole (no status >= 200 yet) the parser's own error is made instead.
 * - HTTPParserError never carries its `HPE_` code (undici looks the llhttp number up in the
 *   name → number table): the code is put back from that table.
 * - A body read to the close (no Content-Length, not chunked) is complete when the connection
 *   breaks (ECONNRESET): undici then `finish`es the message as if the backend had closed it, for
 *   macOS, which reports a reset after whole bodies. A reset is "an error indicated by the
 *   underlying connection" that leaves such a response incomplete (RFC 9112 §8), and on Linux the
 *   bytes not yet read are dropped with it: the gateway relayed a cut body to the caller as a whole,
 *   well-framed one. `finish` on a connection that failed (its socket `errored`) with a message
 *   still open answers that failure instead, which cuts the body as any other reset does.
 * If undici's shape is not the one expected (another version), nothing is touched, and a length
 * mismatch before any head still reads as a malformed head (tls/handshake-errors.ts).
 */
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'

const load = createRequire(import.meta.url)

interface ParserState {
  statusCode: unknown
  contentLength: unknown
  socket?: { errored?: unknown }
}
type CreateError = (this: ParserState, ret: number, data: unknown) => unknown
type Finish = (this: ParserState) => unknown

let settled = false

/** `connector`, correcting undici's parser errors at its first connection (undici attaches its parser inside the callback). */
export function correctingParserErrors(connector: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connector(opts, (...args) => {
      callback(...args)
      if (!settled && args[1]) correctParserErrors(args[1])
    })
}

/** Corrects undici's parser errors once, through the parser undici has just attached to `socket`. */
function correctParserErrors(socket: Socket): void {
  if (settled) return
  settled = true
  const { kParser } = load('undici/lib/core/symbols.js') as { kParser?: symbol }
  const { ERROR } = load('undici/lib/llhttp/constants.js') as { ERROR?: Record<string, number> }
  const parser = kParser === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[kParser]
  const proto = parser === null || typeof parser !== 'object' ? undefined : (Object.getPrototypeOf(parser) as { createError?: CreateError; finish?: Finish })
  const original = proto?.createError
  if (!proto || typeof original !== 'function' || !ERROR || typeof (parser as ParserState).contentLength !== 'string') return
  const finish = proto.finish
  if (typeof finish === 'function' && (parser as ParserState).socket === socket) {
    // A status still set: a message is open (undici clears it at each message's end).
    proto.finish = function (this: ParserState): unknown {
      const failure = this.statusCode ? this.socket?.errored : undefined
      return failure ?? finish.call(this)
    }
  }
  const names = new Map(Object.entries(ERROR).map(([name, n]) => [n, `HPE_${name}`]))
  proto.createError = function (this: ParserState, ret: number, data: unknown): unknown {
    const inHead = typeof this.statusCode === 'number' && this.statusCode < 200 && this.contentLength !== ''
    const length = this.contentLength
    if (inHead) this.contentLength = ''
    try {
      const err = original.call(this, ret, data) as { name?: unknown; code?: unknown }
      if (err?.name === 'HTTPParserError' && err.code === undefined) err.code = names.get(ret)
      return err
    } finally {
      if (inHead) this.contentLength = length
    }
  }
}
