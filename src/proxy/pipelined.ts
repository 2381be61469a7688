/**
 * HTTP/1.1 pipelining: a caller may send many requests on one connection before reading any
 * answer. Node's server emits every request it parses at once, so without a turn each of them
 * ran the pipeline and dialled its upstream together: one connection could put tens of
 * thousands of calls in flight (2 MB of pipelined GETs took a gateway from 134 MB to over
 * 550 MB and filled the endpoint's pool), past `listen.connections` and `perAddress`, which
 * count connections. Answers must leave in order anyway (RFC 9112 §9.3.2), so, like nginx and
 * Envoy, the gateway serves one request of a connection at a time: the next one starts when
 * the one before it has been answered. At most MAX_WAITING may wait; one more is refused with
 * 503 and the connection closes after the answers before it, so what a connection can make the
 * gateway hold is bounded however fast its caller writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { callerAborted } from './outcome.js'

/** Requests of one connection that may wait behind the one being served. */
export const MAX_WAITING = 16

/** What a waiting request is told: `true`, serve now; `false`, its caller closed the connection first; an error, the gateway ended a request before it (endWaiting) or closed the connection with an answer before it (leave): never served, for that. */
export type Turn = boolean | GatewayError

interface Lane {
  busy: boolean
  /** Once one request was refused, every later one of the connection is (it closes). */
  refusing: boolean
  /** Set once the gateway ended a request of the connection (endWaiting) or an answer closed it (leave): nothing after it is served. */
  ended?: GatewayError
  readonly waiting: ((go: Turn) => void)[]
}

const lanes = new WeakMap<Duplex, Lane>()

/**
 * Asks for this connection's turn. `true`: serve now (the usual case, no promise made);
 * a promise: wait, resolving true when the turn comes, false when the connection closed
 * first, the error of the gateway's ending of the connection (endWaiting) when that came first;
 * `'refuse'`: too many wait already. A request given a turn calls `leave` when its answer is done.
 */
export function enter(socket: Duplex): true | Promise<Turn> | 'refuse' {
  let lane = lanes.get(socket)
  // Parsed after an answer that closed the connection (it lingers, discarding what the caller still
  // sends, such as the rest of a refused request's body and what was pipelined behind it): never served,
  // as RFC 9112 §9.6 has it. Node's parser goes on reading there, and such a request went upstream.
  // Behind a request the gateway ended, it waits for that one's end (endWaiting), so their lines come in order.
  if (socket.writableEnded || socket.destroyed || (lane?.ended && !lane.busy)) return Promise.resolve(lane?.ended ?? false)
  if (lane === undefined) {
    const created: Lane = { busy: true, refusing: false, waiting: [] }
    lanes.set(socket, created)
    // One listener per connection: requests still waiting when it closes are let go, unserved.
    socket.once('close', () => {
      for (const wake of created.waiting.splice(0)) wake(created.ended ?? false)
    })
    return true
  }
  if (!lane.busy) {
    lane.busy = true
    return true
  }
  if (lane.refusing || lane.waiting.length >= MAX_WAITING) {
    lane.refusing = true
    return 'refuse'
  }
  const waiting = lane.waiting
  return new Promise<Turn>((resolve) => waiting.push(resolve))
}

/**
 * A CONNECT's turn on its connection: after every request before it is answered. Node writes
 * those answers in order, but a CONNECT is answered on the raw socket, so its 200 overtook them
 * and their answers then went into the tunnel. `true`: answer now; a promise: wait (false when
 * the connection closed or began closing first); `'closing'`: a request before it was refused for
 * pipelining too many, so the connection closes after its answer and nothing after it is served.
 * It never waits in MAX_WAITING's place: Node's parser reads nothing after a CONNECT, so there is
 * one at most, and it never leaves the turn: the connection is the tunnel's from then on.
 */
export function connectTurn(socket: Duplex): true | Promise<Turn> | 'closing' {
  const lane = lanes.get(socket)
  if (lane === undefined) return true
  if (!lane.busy) return lane.ended ? Promise.resolve(lane.ended) : true
  if (lane.refusing) return 'closing'
  const waiting = lane.waiting
  return new Promise<Turn>((resolve) => waiting.push(resolve))
}

/**
 * The gateway ended a request of `socket` (a drain's end, a limit, a body that turned malformed:
 * request-expiry.ts), or the connection with the request in hand (a drain's end: server-closers.ts):
 * the requests waiting behind it, one handed its turn and not started yet included (leave), and any
 * parsed later, are never served, and end with `err` once it has ended (leave), not as callers that
 * left: the caller did not. The first ending of a connection stands. An idle connection has none.
 */
export function endWaiting(socket: Duplex, err: GatewayError): void {
  const lane = lanes.get(socket)
  if (lane?.busy) lane.ended ??= err
}

/** True when `err` is the gateway's ending of `socket` (endWaiting) that a CONNECT waiting there was let go with. */
export function isEndedAhead(socket: Duplex, err: GatewayError): boolean {
  return lanes.get(socket)?.ended === err
}

/** One request more than MAX_WAITING pipelined behind an unanswered one, or any after it on the connection (which closes). */
export function tooManyPipelined(): GatewayError {
  return new GatewayError('too_many_pipelined', `more than ${MAX_WAITING} requests pipelined on one connection wait for an answer: this one is refused and the connection closes after the answers before it (send them on several connections, or wait for answers)`)
}

/**
 * Runs a CONNECT's `answer` in its turn (connectTurn). A CONNECT left unserved is accounted for
 * like a request would be, by throwing why: `too_many_pipelined` behind a request refused for
 * pipelining too many (nothing may be written: the answers before it are still going out, and
 * the connection closes after them), the gateway's ending of the connection (isEndedAhead; nothing
 * written either), `caller_aborted` when the connection closed or began closing while it waited, or
 * while it was answered (`target`: the CONNECT's, as sent).
 */
export async function inConnectTurn(socket: Duplex, target: string, answer: () => Promise<void>): Promise<void> {
  const turn = connectTurn(socket)
  // Reading stops: what follows a closing request is never processed (RFC 9112 §9.6).
  if (turn === 'closing') throw (socket.pause(), tooManyPipelined())
  const go = turn === true || (await turn)
  if (go !== true) throw go || callerAborted()
  return unlessCallerLeaves(socket, target, answer)
}

/**
 * `answer` (admission, the leaf, the dial: everything before the CONNECT's answer), or
 * caller_aborted as soon as the caller closes its side first. Node no longer reads the socket
 * for the server once it hands a CONNECT over, so nothing else hears a caller leave then: a
 * store lookup that hangs would end in its own 503, written to nobody, long after.
 */
function unlessCallerLeaves(socket: Duplex, target: string, answer: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const left = (): void => reject(connectAbandoned(target))
    if (socket.readableEnded || socket.destroyed) return left()
    socket.once('end', left).once('close', left)
    void answer().then(resolve, reject).finally(() => socket.off('end', left).off('close', left))
  })
}

/** A CONNECT whose caller left before its answer: nobody to answer (499, only logged). */
export function connectAbandoned(target: string): GatewayError {
  return new GatewayError('caller_aborted', `CONNECT ${target}: the caller closed the connection before the tunnel was opened`)
}

/**
 * The request that had the turn is answered (`answered`): the next one waiting (if any) gets it,
 * one turn of the event loop later. undici hands a kept-alive upstream connection back to its pool
 * only then (setImmediate after the response, queued before this answer ended): given at once, the
 * next request found the connection busy and dialled a second one, so a pipelining caller kept two.
 */
export function leave(socket: Duplex, answered: ServerResponse): void {
  const lane = lanes.get(socket)
  if (lane === undefined) return
  // An answer sent whole with Connection: close ended the socket (it lingers): nothing after it is served
  // (RFC 9112 §9.6), and that is the gateway's doing. A caller's FIN ends it too (Node's doing): not ours to claim.
  if (answered.writableFinished && socket.writableEnded && !socket.readableEnded) lane.ended ??= closedAhead(answered.statusCode)
  const { ended, waiting } = lane
  // Now, not a turn later: a drain that ended the request exits once its answer is done, these lines first.
  if (ended) return void ((lane.busy = false), waiting.splice(0).forEach((wake) => wake(ended)))
  const next = waiting.shift()
  if (next) setImmediate(() => next(lane.ended ?? (!socket.destroyed && !socket.writableEnded)))
  else lane.busy = false
}

/** What a request pipelined behind an answer that closed the connection ends with: never started (444: nothing is sent). */
function closedAhead(status: number): GatewayError {
  return new GatewayError('connection_closed_ahead', `not started: the answer to the request before it on its connection (${status}) closed the connection, so it was never served: not sent upstream, not answered; send it again on a new connection`)
}

/**
 * `serve`, run in its connection's turn (enter/leave) for a server that keeps no other record of
 * its requests (the admin listener): one request of a connection at a time, none after an answer
 * that closed it, one past MAX_WAITING answered by `refuse` (its answer closes the connection).
 */
export function inTurn(serve: RequestHandler, refuse: RequestHandler): RequestHandler {
  return (req, res) => {
    const turn = enter(req.socket)
    if (turn === 'refuse') return refuse(req, res)
    const start = (): void => {
      res.on('close', () => leave(req.socket, res))
      serve(req, res)
    }
    if (turn === true) return start()
    void turn.then((go) => (go === true ? start() : undefined))
  }
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

// Reasons to answer with Connection: close, beside those of an error: the listener's drain, an upgrade.
export { closingAfterUpgrade, drainAwareResponse } from './drain-response.js'
