/**
 * Answers written once the listener stopped listening (a drain closed it) say `Connection: close`:
 * the drain closes each connection as soon as it is idle, so a caller told `keep-alive` would
 * reuse it for its next request and race that close (a POST written as the socket closes is lost,
 * with no safe retry). Told `close`, it opens its next connection elsewhere (another pod, the
 * Service having dropped this one). Checked when the head is written, not when the request came:
 * requests in flight when the drain began are told too, tunnelled ones (a second server) included.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { nodeHttp } from '../process/index.js'

/** The ServerResponse class of a listener: `listening()` is read as each answer's head is written. */
export function drainAwareResponse(listening: () => boolean): typeof ServerResponse {
  const Base = nodeHttp().ServerResponse
  return class DrainAwareResponse<Request extends IncomingMessage = IncomingMessage> extends Base<Request> {
    // Every head goes through writeHead (Node's implicit header on write/end included).
    override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      if (!listening()) this.shouldKeepAlive = false
      return super.writeHead(statusCode, reason as string, headers)
    }
  }
}
