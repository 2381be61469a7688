/**
 * How what ops does to a listener's server reaches the connections its guard knows
 * (connection-guard.ts): Node's closeIdleConnections and closeAllConnections, which drain and
 * close() call, leave open what Node does not call idle (silent, half-open, tunnels); a drain's
 * end, which must stop every connection from starting another request; and how each connection
 * closes after its last answer (lingering-close.ts), whatever the answer.
 */
import type { Server } from 'node:http'
import { Server as TlsServer } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { ConnectionGuard } from './connection-guard.js'
import type { LaneEnd } from './pipelined.js'
import { isAnswering, partialRequestsEnd } from './request-progress.js'
import { isLingering, lingerOnClose } from './lingering-close.js'

type Closers = Pick<ConnectionGuard, 'closeIdle' | 'closeAll' | 'endLanes'>

/** Each guarded server's guard. */
const guards = new WeakMap<object, Closers>()

/**
 * Makes `server`'s closeIdleConnections and closeAllConnections the guard's: it knows every
 * connection Node does, and also what Node leaves open (silent, half-open, tunnels); and it lets
 * an answer on its way leave first, where Node's destroy every connection they pick at once (a
 * connection closing lingering after its last answer is idle to Node). And every answer after which
 * Node closes a connection (`Connection: close`) closes it lingering, not at once (lingerOnClose).
 */
export function closeThroughGuard(server: Server, guard: Closers): void {
  guards.set(server, guard)
  server.closeIdleConnections = () => guard.closeIdle(partialRequestsEnd(server))
  server.closeAllConnections = () => void guard.closeAll()
  // HTTP runs on the TLS socket of a TLS server: that is the one its answers end.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', lingerOnClose)
}

/** `server`'s closeAllConnections (closeThroughGuard), resolving once every connection closed (bounded: ANSWER_LEAVING_MS). */
export function closeAllConnections(server: Server): Promise<void> {
  const guard = guards.get(server)
  if (guard) return guard.closeAll()
  server.closeAllConnections()
  return Promise.resolve()
}

/**
 * A drain's end (ops' in-flight tracker, as it ends the requests running): from now on no
 * request not yet started on a connection of `server`, its tunnels' included, is served: one
 * waiting behind another, one handed its turn and not started yet (pipelined.ts leave gives it
 * one event-loop turn later), any parsed later, on a connection open now or opened later (a
 * tunnel). Each ends with `end` (pipelined.ts endLane), not as a caller that left.
 */
export function endRequestsNotStarted(server: object, end: LaneEnd): void {
  guards.get(server)?.endLanes(end)
}

/**
 * How long closeOnceAnswered lets an answer on its way leave before it destroys the connection.
 * Destroyed at once, a connection whose caller reads slowly and still sends (an upload) is reset by
 * the kernel, which throws away what it had not sent yet: the caller saw a reset, not its answer.
 */
export const ANSWER_LEAVING_MS = 1000

/**
 * Closes each of `sockets`: one whose answer is on its way (answerLeaving) once it has left (Node
 * ends it after its answer: answers that close their connection all do), within
 * ANSWER_LEAVING_MS; the others at once. Resolves once all are closed.
 */
export function closeOnceAnswered(sockets: readonly Duplex[]): Promise<unknown> {
  const leaving: Promise<void>[] = []
  for (const socket of sockets) {
    if (answerLeaving(socket)) leaving.push(closedWithin(socket, ANSWER_LEAVING_MS))
    else socket.destroy()
  }
  return Promise.all(leaving)
}

/** True while an answer of `socket` is on its way: a request answered and its answer not yet sent, or the connection closing lingering after its last answer (it closes itself then). */
export function answerLeaving(socket: Duplex): boolean {
  return isLingering(socket) || isAnswering(socket)
}

/** Resolves once `socket` closed, destroying it if it has not within `ms`. */
function closedWithin(socket: Duplex, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void (socket.destroy(), resolve()), ms)
    socket.once('close', () => void (clearTimeout(timer), resolve()))
  })
}
