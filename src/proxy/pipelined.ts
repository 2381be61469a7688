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
import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'

/** Requests of one connection that may wait behind the one being served. */
export const MAX_WAITING = 16

/** What a waiting request is told: `true`, serve now; `false`, its caller closed the connection first; an error, the gateway ended a request before it (endWaiting) or closed the connection with an answer before it (leave): never served, for that. */
export type Turn = boolean | GatewayError

interface Lane {
  busy: boolean
  /** Set once: what every request of the connection parsed from then on is refused with (one pipelined after a refusal; any arriving once a drain's end came, endLane). */
  refusing?: GatewayError
  /** A request of the connection was refused: its answer closes the connection, so nothing after it is answered. */
  closing: boolean
  /** Set once the gateway ended a request of the connection (endWaiting), cut an answer (endWaitingBehindCut) or an answer closed it (leave): nothing after it is served. */
  ended?: GatewayError
  closedBy?: number // the status of the answer that closed the connection (leave): its `ended`, made only when read (endedOf)
  readonly waiting: ((go: Turn) => void)[]
}

const lanes = new WeakMap<Duplex, Lane>()
/** A lane's `ended`; leave's is made when read: one made at every closing answer kept closed connections alive through young collections (docs/performance.md). */
const endedOf = (lane: Lane | undefined): GatewayError | undefined => lane && (lane.ended ??= lane.closedBy === undefined ? undefined : closedAhead(lane.closedBy))

/** `socket`'s lane, made `busy` or not; requests still waiting when the connection closes are let go, unserved. */
function newLane(socket: Duplex, busy: boolean): Lane {
  const lane: Lane = { busy, closing: false, waiting: [] }
  lanes.set(socket, lane)
  // One listener per connection.
  socket.once('close', () => {
    for (const wake of lane.waiting.splice(0)) wake(endedOf(lane) ?? false)
  })
  return lane
}

/**
 * Asks for this connection's turn. `true`: serve now (the usual case, no promise made);
 * a promise: wait, resolving true when the turn comes, false when the connection closed
 * first, the error of the gateway's ending of the connection (endWaiting) when that came first, or
 * of its refusal behind a refused request (never answered: that answer closes the connection);
 * an error: refused with it (answered, and the connection closes after it). A request given a
 * turn calls `leave` when its answer is done.
 */
export function enter(socket: Duplex): true | Promise<Turn> | GatewayError {
  const lane = lanes.get(socket)
  // First, whatever the connection's state: a refusal holds no turn (leave never runs for it), so once its answer had
  // closed the connection (it lingers, Node's parser reading on) nothing else said why what came after was not served.
  if (lane?.refusing) return refusal(lane, lane.refusing)
  // Parsed after an answer that closed the connection (it lingers, discarding what the caller still sends, such as the
  // rest of a refused request's body and what was pipelined behind it): never served, as RFC 9112 §9.6 has it.
  // Behind a request the gateway ended, it waits for that one's end (endWaiting), so their lines come in order.
  if (socket.writableEnded || socket.destroyed || (endedOf(lane) && !lane?.busy)) return Promise.resolve(endedOf(lane) ?? false)
  if (lane === undefined) newLane(socket, true)
  else if (lane.busy) return wait(lane)
  else lane.busy = true
  return true
}

/** A request pipelined behind the one `lane`'s connection serves: waits, or is refused past MAX_WAITING. */
function wait(lane: Lane): Promise<Turn> | GatewayError {
  if (lane.waiting.length >= MAX_WAITING) {
    lane.refusing = pipelinedAfterRefusal()
    return refuse(lane, tooManyPipelined())
  }
  return new Promise<Turn>((resolve) => lane.waiting.push(resolve))
}

/** `err`, a refusal of a request of `lane`'s connection: the connection closes after its answer. */
function refuse(lane: Lane, err: GatewayError): GatewayError {
  lane.closing = true
  return err
}

/** A request of `lane`'s refusing connection: refused itself (answered), or let go unanswered behind a refused one, whose answer closes the connection (isClosingAhead). */
function refusal(lane: Lane, refusing: GatewayError): GatewayError | Promise<Turn> {
  return lane.closing ? Promise.resolve(refusing) : refuse(lane, refusing)
}

/**
 * A CONNECT's turn on its connection: after every request before it is answered. Node writes
 * those answers in order, but a CONNECT is answered on the raw socket, so its 200 overtook them
 * and their answers then went into the tunnel. `true`: answer now; a promise: wait (false when
 * the connection closed or began closing first; its refusal behind a refused request, isClosingAhead:
 * nothing may be written for it); an error: refused with it (answered), as a request in its place.
 * It never waits in MAX_WAITING's place: Node's parser reads nothing after a CONNECT, so there is
 * one at most, and it never leaves the turn: the connection is the tunnel's from then on.
 */
export function connectTurn(socket: Duplex): true | Promise<Turn> | GatewayError {
  const lane = lanes.get(socket)
  if (lane?.refusing) return lane.closing ? Promise.resolve(lane.refusing) : lane.refusing
  if (lane === undefined) return true
  if (!lane.busy) return endedOf(lane) ? Promise.resolve(endedOf(lane) as GatewayError) : true
  const waiting = lane.waiting
  return new Promise<Turn>((resolve) => waiting.push(resolve))
}

/**
 * The gateway ended a request of `socket` (a drain's end, a limit, a body that turned malformed:
 * request-expiry.ts), or the connection with the request in hand (a drain's end: endLane):
 * the requests waiting behind it, one handed its turn and not started yet included (leave), and any
 * parsed later, are never served, and end with `err` once it has ended (leave), not as callers that
 * left: the caller did not. The first ending of a connection stands. An idle connection has none.
 */
export function endWaiting(socket: Duplex, err: GatewayError): void {
  const lane = lanes.get(socket)
  if (lane?.busy) lane.ended = endedOf(lane) ?? err
}

/** What a drain's end ends the requests of a connection that it never started with (endLane). */
export interface LaneEnd {
  /** Those behind a request in hand: never answered (the connection closes with that one). */
  readonly waiting: GatewayError
  /** Those arriving on a connection with none in hand: answered with it, the connection closing after it. */
  readonly arriving: GatewayError
}

/**
 * A drain's end reaches `socket` (server-closers.ts): no request not started on it is ever served.
 * Behind a request in hand they end with `end.waiting` (endWaiting); on a connection with none in
 * hand, every request whose head completes from now on is refused with `end.arriving`. Before, such
 * a request (its head partly received, or read before the connections closed) started, was sent
 * upstream and was cut by that closing a moment later: 499 caller_aborted. A connection an answer
 * closed, or closing after a refusal, keeps its reason.
 */
export function endLane(socket: Duplex, end: LaneEnd): void {
  const lane = lanes.get(socket)
  if (lane?.busy) return endWaiting(socket, end.waiting)
  if (endedOf(lane) || lane?.refusing || socket.writableEnded || socket.destroyed) return
  ;(lane ?? newLane(socket, false)).refusing = end.arriving
}

/** True when `err` is the gateway's ending of `socket` (endWaiting) that a CONNECT waiting there was let go with. */
export function isEndedAhead(socket: Duplex, err: GatewayError): boolean {
  return endedOf(lanes.get(socket)) === err
}

/** True when `err` refuses a CONNECT behind a request refused on `socket` (connectTurn): that answer closes the connection, so nothing is written for it. */
export function isClosingAhead(socket: Duplex, err: GatewayError): boolean {
  const lane = lanes.get(socket)
  return lane?.closing === true && lane.refusing === err
}

/** One request more than MAX_WAITING pipelined behind an unanswered one: refused, and the connection closes after the answers before it. */
function tooManyPipelined(): GatewayError {
  return new GatewayError('too_many_pipelined', `more than ${MAX_WAITING} requests pipelined on one connection wait for an answer: this one is refused and the connection closes after the answers before it (send them on several connections, or wait for answers)`)
}

/** What each request (a CONNECT included) the caller pipelined after one refused tooManyPipelined is refused with. */
function pipelinedAfterRefusal(): GatewayError {
  return new GatewayError('too_many_pipelined', `not started: a request before it on its connection was refused for pipelining more than ${MAX_WAITING} requests behind an unanswered one, and the connection closes after that refusal: not sent upstream, not answered; send it again on a new connection`)
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
  if (answered.writableFinished && socket.writableEnded && !socket.readableEnded) lane.closedBy ??= answered.statusCode
  // Now, not a turn later: a drain that ended the request exits once its answer is done, these lines first.
  if (lane.ended || lane.closedBy !== undefined) return void ((lane.busy = false), lane.waiting.splice(0).forEach((wake) => wake(endedOf(lane) as GatewayError)))
  const next = lane.waiting.shift()
  if (next) setImmediate(() => next(endedOf(lane) ?? (!socket.destroyed && !socket.writableEnded)))
  else lane.busy = false
}

/** What a request pipelined behind an answer that closed the connection ends with: never started (444: nothing is sent). */
function closedAhead(status: number): GatewayError {
  return new GatewayError('connection_closed_ahead', `not started: the answer to the request before it on its connection (${status}) closed the connection, so it was never served: not sent upstream, not answered; send it again on a new connection`)
}

/**
 * The gateway is cutting the connection of `res`, its answer started (`why`: a response cut short
 * upstream, an error after the head). Its caller did not leave: the requests waiting behind it, and
 * any parsed later, end `connection_closed_ahead` (leave), never served. Said before the cut, so no
 * close that the cut brings about can let them go as callers that left.
 */
export function endWaitingBehindCut(res: ServerResponse, why: GatewayError): void {
  const msg = `not started: the gateway cut the connection in its answer to the request before it on the connection (${res.statusCode}, ${why.reason}), so it was never served: not sent upstream, not answered; send it again on a new connection`
  endWaiting(res.req.socket, new GatewayError('connection_closed_ahead', msg))
}
