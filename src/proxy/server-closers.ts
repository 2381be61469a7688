/**
 * How what ops does to a listener's server reaches the connections its guard knows
 * (connection-guard.ts): Node's closeIdleConnections and closeAllConnections, which drain and
 * close() call, leave open what Node does not call idle (silent, half-open, tunnels); and a
 * drain's end, which must stop every connection from starting another request.
 */
import type { Server } from 'node:http'
import type { ConnectionGuard } from './connection-guard.js'
import type { LaneEnd } from './pipelined.js'
import { partialRequestsEnd } from './request-progress.js'

type Closers = Pick<ConnectionGuard, 'closeIdle' | 'closeAll' | 'endLanes'>

/** Each guarded server's guard. */
const guards = new WeakMap<object, Closers>()

/**
 * Makes `server`'s closeIdleConnections and closeAllConnections the guard's: it knows every
 * connection Node does, and also what Node leaves open (silent, half-open, tunnels); and it lets
 * an answer on its way leave first, where Node's destroy every connection they pick at once (a
 * connection closing lingering after its last answer is idle to Node).
 */
export function closeThroughGuard(server: Server, guard: Closers): void {
  guards.set(server, guard)
  server.closeIdleConnections = () => guard.closeIdle(partialRequestsEnd(server))
  server.closeAllConnections = () => void guard.closeAll()
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
