/**
 * Whether a connection has a request in progress, which a drain or a reload closing idle
 * connections must not cut: one handed to a handler and not answered yet (pipelined ones are
 * handed over early), or one begun and not complete (its request line or headers partly
 * received). Node's own closeIdleConnections keeps the latter too; a reload that closed it
 * would drop a request the caller has already sent part of. A reload that refuses the
 * connection (an outdated tunnel, a changed caller trust) answers that request once complete,
 * as it answers the next one; a drain serves it. Only within the headers limit
 * (listen.timeouts.headers) from its first byte, though: past it the request is stalled, not in
 * progress. Node answers that 408 while its server listens, but stops checking once the server
 * closes, so without this bound a drain would wait its whole grace for a caller that sent half
 * a request line; a drain also ends it before the end of its grace
 * (endPartialRequestsBy), as the headers limit (60 s by default) may outlast the grace (25 s).
 * Node tells when a message begins only through its parser's message-begin slot, which its
 * server leaves unset: `watchRequests` fills it, and follows the reads of a head partly received
 * (its after-read slot), so a head past the size limit is told a 414 or a 431 as it is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { readLine, type LineState } from './request-line.js'

/** Node's parser as far as this module uses it: the connection it reads now, its callback slots, the read it is in. */
interface Parser {
  socket?: object | null
  [slot: number]: unknown
  getCurrentBuffer(): Buffer
}

/** A parser's after-read callback: `ret`, the bytes it took from the read, or its error. */
type OnExecute = (this: Parser, ret: unknown) => unknown

/** The slots of the message-begin and after-read callbacks (HTTPParser.kOnMessageBegin, kOnExecute); undefined where Node has none. */
const { kOnMessageBegin: ON_MESSAGE_BEGIN, kOnExecute: ON_EXECUTE } = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: { kOnMessageBegin?: number; kOnExecute?: number } }).HTTPParser ?? {}
/** The after-read callbacks this module made, each around Node's for one connection. */
const followers = new WeakSet<OnExecute>()

/**
 * What this module knows of one connection, in one object: each event costs one look-up of the
 * connection, where a map per fact cost a look-up per fact and an entry made and removed per request
 * (`begun`): 2,337 → 1,365 instructions a request (docs/performance.md, session 51).
 */
interface Progress {
  /** When the request begun and not yet handed to a handler began (performance.now()); undefined: none. */
  begun: number | undefined
  /** Where that request's line is after the reads so far (request-line.ts); undefined: none yet (begun in the read being parsed). Kept after the hand-over until the next request begins. */
  line: LineState | undefined
  /** Requests handed to a handler and not answered; undefined: none handed over or answered yet. */
  unanswered: number | undefined
  /** The last request handed over with a body (at most one arrives at a time: the next request is parsed after it). */
  withBody: Exchange | undefined
  /** What runs once every request handed over is answered (whenAnswered); null once it ran; undefined: nothing asked. */
  afterAnswers: (() => void) | null | undefined
}

/** Per connection, its Progress (made at its first event). */
const progress = new WeakMap<object, Progress>()

function progressOf(socket: object): Progress {
  let p = progress.get(socket)
  if (p === undefined) progress.set(socket, (p = { begun: undefined, line: undefined, unanswered: undefined, withBody: undefined, afterAnswers: undefined }))
  return p
}

/** Per server, a drain's deadline (performance.now()) after which no partly received request is in progress. */
const drainDeadlines = new WeakMap<object, number>()

/**
 * A drain of `server` ends its partly received requests at `deadline` (performance.now()): the
 * headers limit (60 s by default) may outlast the drain's grace (25 s), and a caller that sent
 * half a request would hold the drain to its grace and make it exit 1 (requests cut) though
 * nothing was handed over. The drain gives its grace, less what it keeps for exiting.
 */
export function endPartialRequestsBy(server: object, deadline: number): void {
  drainDeadlines.set(server, deadline)
}

/** When `server`'s partly received requests stop counting as in progress (Infinity: no drain). */
export function partialRequestsEnd(server: object): number {
  return drainDeadlines.get(server) ?? Infinity
}

/** One function for every parser: parsers are pooled, so it marks whichever connection the parser reads now. */
function onMessageBegin(this: Parser): void {
  if (!this.socket) return
  const p = progressOf(this.socket)
  p.begun = performance.now()
  p.line = undefined
}

/**
 * Node's after-read callback `node` of one connection, after this: a request head still arriving
 * has its request line followed, so an overflow in a later read is told as it is (requestLineOpen).
 * Only such reads are looked at (copied, as Node hands them out), and none once the line ended: a
 * head that arrives in one read, as nearly all do, costs a look-up.
 */
function following(node: OnExecute): OnExecute {
  const onExecute: OnExecute = function (ret) {
    const p = this.socket ? progress.get(this.socket) : undefined
    if (p !== undefined && p.begun !== undefined && !(ret instanceof Error) && p.line !== 'ended') p.line = readLine(p.line, this.getCurrentBuffer())
    return node.call(this, ret)
  }
  followers.add(onExecute)
  return onExecute
}

/** Watches `socket`, just handed to an HTTP server (which gave it its parser), for requests begun and their heads arriving. */
export function watchRequests(socket: object): void {
  const parser = (socket as { parser?: Parser | null }).parser
  if (!parser) return
  if (ON_MESSAGE_BEGIN !== undefined && parser[ON_MESSAGE_BEGIN] == null) parser[ON_MESSAGE_BEGIN] = onMessageBegin
  // Node gives each connection its own (and clears it when the parser goes back to its pool): wrapped once.
  const node = ON_EXECUTE === undefined ? undefined : parser[ON_EXECUTE]
  if (typeof node === 'function' && !followers.has(node as OnExecute)) parser[ON_EXECUTE as number] = following(node as OnExecute)
}

/** True when the head of `socket` that overflowed in a read (`failed`: the part its parser took) was still in its request line: its request-target is past the limit. */
export function requestLineOpen(socket: object | undefined, failed: Uint8Array): boolean {
  return readLine(socket && progress.get(socket)?.line, failed) === 'open'
}

/** A request handed to its handler, with its response. */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
}

/** A request of `socket` reached its handler (`exchange`: it has a body). */
export function requestStarted(socket: object, exchange?: Exchange): void {
  const p = progressOf(socket)
  p.begun = undefined
  p.unanswered = (p.unanswered ?? 0) + 1
  if (exchange) p.withBody = exchange
}

/** The request of `socket` whose body is still arriving, if one is: a parse error there is that request's. */
export function bodyArriving(socket: object): Exchange | undefined {
  const exchange = progress.get(socket)?.withBody
  return exchange && !exchange.req.complete ? exchange : undefined
}

/**
 * A response of a server whose request handler hears its 'close' anyway (the listener's: drain-response.ts).
 * `answeredOnClose` false: not yet started; set by the guard starting a bodiless request on it (answersOnClose), whose
 * answer the handler's one 'close' listener then reports (requestAnswered), in place of a listener of the guard's own.
 */
export interface AnsweredOnClose {
  answeredOnClose: boolean
}

/** True (and marked so) when `res`, whose bodiless request a guard starts, is answered from its handler's 'close' listener (AnsweredOnClose). */
export function answersOnClose(res: object): boolean {
  if ((res as Partial<AnsweredOnClose>).answeredOnClose !== false) return false
  ;(res as AnsweredOnClose).answeredOnClose = true
  return true
}

/** A request of `socket` that reached its handler is answered (or abandoned): what is left of its body is no longer its. */
export function requestAnswered(socket: object, req: IncomingMessage): void {
  // Held no longer than its answer: a kept-alive connection would keep it, and what it holds, alive.
  const p = progressOf(socket)
  if (p.withBody?.req === req) p.withBody = undefined
  const left = (p.unanswered ?? 1) - 1
  p.unanswered = left
  const after = left === 0 ? p.afterAnswers : undefined
  if (!after) return
  p.afterAnswers = null
  after()
}

/**
 * Runs `after` once every request of `socket` handed to a handler is answered (at once when none
 * is): what follows them on the connection (a refusal of what the parser read after them) must
 * not overtake their answers. Only the first of a connection runs.
 */
export function whenAnswered(socket: object, after: () => void): void {
  const p = progressOf(socket)
  if (p.afterAnswers !== undefined) return
  p.afterAnswers = isAnswering(socket) ? after : null
  if (!isAnswering(socket)) after()
}

/** True while a request of `socket` is handed to a handler and unanswered: its response is on its way. */
export function isAnswering(socket: object): boolean {
  return (progress.get(socket)?.unanswered ?? 0) > 0
}

/**
 * True while `socket` has a request in progress: unanswered, or partly received and begun less than
 * `headersMs` ago (0: no limit) and before `until` (performance.now(); a drain's deadline).
 */
export function hasRequestInProgress(socket: object, headersMs: number, until = Infinity): boolean {
  const since = progress.get(socket)?.begun
  if (isAnswering(socket)) return true
  if (since === undefined) return false
  const now = performance.now()
  return now < until && (headersMs <= 0 || now - since < headersMs)
}
