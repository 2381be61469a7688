/**
 * Node's 'clientError' (a request its parser refused, or a header deadline) answered by the one
 * error writer; nothing is written when there is no one to answer (the client reset the
 * connection, or it is already being answered and closed). A parse error in a body still arriving
 * (a bad chunk-size line in a streamed upload) is the error of the request that body is of: that
 * request is ended with it as a limit ends one (request-expiry.ts), its 400 in its place on the
 * connection, which then closes lingering, and its access line is the one line. (Before, a raw 400
 * went out beside it, the connection was reset at the caller's next bytes, which could take the 400
 * with it, and the request had a second line, `499 caller_aborted`.)
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ErrorSurface, GatewayError } from '../errors.js'
import { answerHeadsInHandlers, clientErrorOf } from './client-error.js'
import { endRequest } from './request-expiry.js'
import { bodyArriving, whenAnswered } from './request-progress.js'
import { isLingering, readNoMoreUntilClosing, stopParsing } from './lingering-close.js'
import { writeRawError } from './write-error.js'

/** How answerClientErrors answers, and whom it tells. */
export interface ClientErrorOptions {
  configKey: string
  headersMs: number
  surface: ErrorSurface
  /** Hears of each error answered (`req`: the request it ended, when it was in one's body). */
  onError(err: GatewayError, socket: Duplex, req?: IncomingMessage): void
}

/**
 * Answers the parse errors and header deadlines of `server`; `onError` hears of each one answered.
 * The handlers answer a missing Host and any Expect themselves, in the error envelope (answerHeadsInHandlers).
 */
export function answerClientErrors(server: Server, o: ClientErrorOptions): void {
  answerHeadsInHandlers(server)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // llhttp's errors: the parser stays failed, so it reads nothing more of the connection once it lingers.
    if (err.code?.startsWith('HPE_')) stopParsing(socket)
    // Bytes after a request that asked to close (RFC 9112 §9.6: not processed). The requests
    // before them are being answered and the connection closes after the last answer; a 400
    // here would take those answers away (their upstream calls made all the same). Reading
    // stops until the connection closes lingering after them, so what follows is never parsed or
    // held; from then on each read is discarded.
    if (err.code === 'HPE_CLOSED_CONNECTION') return void readNoMoreUntilClosing(socket)
    // Answered and closing lingering: what it discards (the rest of a malformed body) goes on being
    // discarded; closing at once would reset the connection under the answer the caller has not read.
    if (isLingering(socket)) return
    const refused = clientErrorOf(err, o.configKey, o.headersMs, socket)
    // Not writable: already answered and closing (a client leaving then is no new error).
    if (!refused || !socket.writable) return void socket.destroy()
    const arriving = bodyArriving(socket)
    // Once ended, its later parse errors (each chunk read until it closes) are the same one.
    if (arriving) return void (endRequest(arriving.res, refused, { surface: o.surface }) && o.onError(refused, socket, arriving.req))
    // Read behind requests still being answered (pipelined): its refusal follows their answers, never
    // overtakes them (it went out first, and their answers were lost). Unless one of them closed the connection.
    whenAnswered(socket, () => {
      if (!socket.writable) return
      writeRawError(socket, refused, o.surface)
      // After the answer is written: what the connection carried includes it.
      o.onError(refused, socket)
    })
  })
}
