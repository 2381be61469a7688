/**
 * A CONNECT where none is served: inside an intercepted tunnel, or on the admin listener. Node
 * would hand over the socket paused and unanswered, held open past every limit; it is answered
 * (405 with the listener's methods in `Allow` and in the message, or headRefusal's 400/505) and closed.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { methodNotAllowed } from '../errors.js'
import { headRefusal } from './client-error.js'
import { writeRawError } from './write-error.js'
import type { GuardOptions } from './connection-guard.js'

/** Answers a CONNECT the server does not tunnel, and reports it (an access line on the proxy side, the admin listener's own line there). */
export function refuseUnservedConnect(req: IncomingMessage, socket: Duplex, o: Pick<GuardOptions, 'listener' | 'methods' | 'surface' | 'events'>): void {
  const where = o.listener === 'tunnel' ? 'inside an intercepted tunnel' : 'here'
  const err = headRefusal(req) ?? methodNotAllowed(o.methods, `CONNECT ${req.url ?? ''} is not served ${where}`)
  writeRawError(socket, err, o.surface)
  o.events.onRejected?.(o.listener, err, socket, req)
}
