/**
 * The listener's responses decide, as each head is written (every head goes through writeHead,
 * Node's implicit one on write/end included), whether the connection stays open after them:
 * - Once the listener stopped listening (a drain closed it) an answer says `Connection: close`:
 *   the drain closes each connection as soon as it is idle, so a caller told `keep-alive` would
 *   reuse it for its next request and race that close (a POST written as the socket closes is
 *   lost, with no safe retry). Told `close`, it opens its next connection elsewhere (another pod,
 *   the Service having dropped this one). Requests in flight when the drain began are told too,
 *   tunnelled ones (a second server) included.
 * - An answer that starts before its request's body has all arrived (a backend refusing an upload
 *   early: 401, 403, 413) says `Connection: close` too, and once it is sent the rest of the body is
 *   discarded while the connection closes lingering (lingering-close.ts, as after every closing
 *   answer). Kept alive, the connection waited on a body nobody read any more: the caller's next
 *   request on it hung to the keep-alive limit, then a reset.
 * A request asking to upgrade is its connection's last too (closingAfterUpgrade).
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { nodeHttp } from '../process/index.js'
import { hasBody } from './body.js'
import type { AnsweredOnClose } from './request-progress.js'

/** The ServerResponse class of a listener: `listening()` is read as each answer's head is written. */
export function drainAwareResponse(listening: () => boolean): typeof ServerResponse {
  const Base = nodeHttp().ServerResponse
  return class DrainAwareResponse<Request extends IncomingMessage = IncomingMessage> extends Base<Request> implements AnsweredOnClose {
    answeredOnClose = false
    override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      if (!listening()) this.shouldKeepAlive = false
      if (!this.req.complete && hasBody(this.req.headers)) closeAfterEarlyAnswer(this)
      return super.writeHead(statusCode, reason as string, headers)
    }
  }
}

/** `res` starts before its request's body has all arrived: the connection closes after it, the rest of the body discarded. */
function closeAfterEarlyAnswer(res: ServerResponse): void {
  res.shouldKeepAlive = false
  // Whoever read the body (the upstream call) is done with it once the answer is sent.
  res.once('finish', () => void (res.req.complete || res.req.resume()))
}

/**
 * `res`, set to close its connection when `req` asks to upgrade (WebSocket, h2c). The gateway
 * declines upgrades (Upgrade is hop-by-hop: the request goes upstream as plain HTTP), but Node's
 * parser, having seen one, reads nothing more of the bytes that came with it: requests pipelined
 * behind it went unanswered until the keep-alive limit. Closing after its answer makes that
 * definite (RFC 9112 §9.6: a client sends nothing more after Connection: close, and retries
 * what went unanswered on a new connection).
 */
export function closingAfterUpgrade(req: IncomingMessage, res: ServerResponse): ServerResponse {
  if (req.headers.upgrade !== undefined) res.shouldKeepAlive = false
  return res
}
