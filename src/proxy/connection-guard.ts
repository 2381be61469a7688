/**
 * One HTTP server's defence against slow, silent and greedy clients: headers, body-idle,
 * buffered-body, send-idle and keep-alive limits, connection caps, parse errors answered by
 * the one error writer, and a drain that closes every connection with no request in progress
 * (request-progress.ts: silent, idle, half-open, tunnels) rather than only those Node calls idle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { ClientTimeoutsConfig, ConnectionLimitsConfig } from '../config/index.js'
import { GatewayError, type ErrorSurface } from '../errors.js'
import { answerClientErrors } from './answer-client-errors.js'
import { refuseUnservedConnect } from './unserved-connect.js'
import { capConnections, type RefusalReason } from './connection-caps.js'
import { hasBody } from './body.js'
import type { SendStall } from './relay-hooks.js'
import { endRequest, expiryOf } from './request-expiry.js'
import { answersOnClose, hasRequestInProgress, isAnswering, requestAnswered, requestStarted, watchRequests } from './request-progress.js'
import { answerLeaving, closeOnceAnswered, closeThroughGuard } from './server-closers.js'
import { endLane, type LaneEnd } from './pipelined.js'
import { RunningList, type RunningEntry } from '../runtime/index.js'

export { connectionCounter, type CappedConnections, type RefusalReason } from './connection-caps.js'

/** Which listener an event happened on (label value). */
export type ListenerName = 'proxy' | 'admin' | 'tunnel'
/** Why a connection was closed by a limit (label value). */
export type TimeoutReason = 'headers' | 'body_idle' | 'buffered_body' | 'send_idle' | 'keep_alive' | 'tls_handshake' | 'tunnel_idle'

/** What the guard reports; ops turns these into metrics and debug lines. */
export interface ConnectionEvents {
  onTimeout?(listener: ListenerName, reason: TimeoutReason): void
  onRefused?(listener: ListenerName, reason: RefusalReason): void
  /** A request answered by the guard itself, on `connection`: Node's parser refused it (no `req`; `req` when it ended one whose body turned malformed), or a CONNECT where none is served. */
  onRejected?(listener: ListenerName, err: GatewayError, connection: Duplex, req?: IncomingMessage): void
}

export interface GuardOptions {
  listener: ListenerName
  /** Config key the limits come from, named in messages (`listen.timeouts`). */
  configKey: string
  timeouts: ClientTimeoutsConfig & { sendIdleMs?: number }
  connections?: ConnectionLimitsConfig
  surface: ErrorSurface
  events: ConnectionEvents
  /** Reason reported when the keep-alive limit closes a connection (tunnels: tunnel_idle). */
  idleReason?: TimeoutReason
  /** The methods the listener's routes take: the `Allow` (and message) of a CONNECT's 405 where none is served. */
  methods: readonly [string, ...string[]]
}

/** The guard of one server. */
export interface ConnectionGuard {
  /** Bounds the time a body the gateway reads whole may take to arrive. */
  limitBufferedBody(req: IncomingMessage, res: ServerResponse): void
  /** The clock of a response the caller stops reading (sendIdle): cuts the connection when it runs out; undefined when the limit is off. */
  limitSend(req: IncomingMessage, res: ServerResponse): SendStall | undefined
  /** Tracks a connection that left HTTP (a CONNECT tunnel); drain closes it when isIdle(). */
  track(socket: Duplex, isIdle: () => boolean): void
  /** Closes connections with no request in progress (a partly received one counts only before `until`; one closing lingering closes itself), here and in adopted guards. */
  closeIdle(until?: number): void
  closeAll(): Promise<void> // here and in adopted guards, each once its answer has left (closeOnceAnswered); resolves once all closed
  /** A drain's end: the requests not started on every connection, here and in adopted guards, now and opened later, end with `end` (pipelined.ts endLane). */
  endLanes(end: LaneEnd): void
  /** Closes the connections `refused` names (a reload's caller trust) with no request in progress (one closing lingering closes itself) and the tunnels it names, here and in adopted guards. */
  closeRefused(refused: (socket: Duplex) => boolean): void
  /** Another guard (the tunnels' inner server) whose connections drain with this one. */
  adopt(child: Child): void
}

type Child = Pick<ConnectionGuard, 'closeIdle' | 'closeAll' | 'endLanes' | 'closeRefused'>
export { expiryOf } from './request-expiry.js'

/** The reader stopped asking for bytes (backpressure): the silence is ours, not the client's. */
const starved = (req: IncomingMessage): boolean => req.isPaused() || req.readableLength >= req.readableHighWaterMark

/** Applies the limits to `server` (before it listens) and returns its guard. */
export function guardConnections(server: Server, o: GuardOptions): ConnectionGuard {
  const t = o.timeouts
  server.requestTimeout = 0
  server.headersTimeout = t.headersMs
  server.keepAliveTimeout = t.keepAliveMs
  // Node checks header deadlines on this interval: fine enough for any limit it enforces.
  ;(server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(t.headersMs / 4) || 1000))
  capConnections(server, o.connections, (reason) => o.events.onRefused?.(o.listener, reason))
  answerClientErrors(server, {
    configKey: o.configKey,
    headersMs: t.headersMs,
    surface: o.surface,
    onError: (err, socket, req) => (err.reason === 'request_timeout' ? o.events.onTimeout?.(o.listener, 'headers') : o.events.onRejected?.(o.listener, err, socket, req)),
  })
  const guard = new Guard(o)
  // HTTP runs on the TLS socket of a TLS server: that is the one requests name.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Duplex) => guard.opened(socket))
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    // Node hands the socket over without its own error listener: from here an error on it (the
    // client resetting) is an uncaught 'error' event that ends the process unless someone listens.
    socket.on('error', () => socket.destroy())
    guard.left(socket)
    // Only a server with a CONNECT handler of its own tunnels (the proxy listener). Anywhere
    // else (inside an intercepted tunnel, the admin listener) Node would hand over the socket
    // paused and unanswered, held open past every limit: answer and close it instead.
    if (server.listenerCount('connect') === 1) refuseUnservedConnect(req, socket, o)
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => guard.started(req, res))
  // With a listener here Node no longer destroys timed-out sockets itself: the guard must.
  server.on('timeout', (socket: Socket) => guard.timedOut(socket))
  // Drain (ops) and close() call these on the server: they now include what Node leaves open; each connection closes lingering.
  closeThroughGuard(server, guard)
  return guard
}

type Limit = 'body_idle' | 'buffered_body' | 'send_idle'
const LIMITS: Record<Limit, { key: 'bodyIdleMs' | 'bufferedBodyMs' | 'sendIdleMs'; name: string; what: string }> = {
  body_idle: { key: 'bodyIdleMs', name: 'bodyIdle', what: 'request body paused for more than' },
  buffered_body: { key: 'bufferedBodyMs', name: 'bufferedBody', what: 'request body did not arrive within' },
  send_idle: { key: 'sendIdleMs', name: 'sendIdle', what: 'the caller read none of the response for' },
}

/** The per-connection state of one server: what is open, what is being read; which has a request in progress is request-progress.ts's. */
class Guard implements ConnectionGuard {
  readonly #o: GuardOptions
  readonly #open = new RunningList<Duplex>() // lists, not a Set and a Map: those kept closed connections alive through young collections (runtime/running-list.ts)
  readonly #entries = new WeakMap<Duplex, RunningEntry<Duplex>>()
  readonly #tunnels = new RunningList<{ socket: Duplex; isIdle: () => boolean }>()
  readonly #reading = new WeakMap<Duplex, { req: IncomingMessage; res: ServerResponse }>()
  readonly #children: Child[] = []
  #end?: LaneEnd // a drain's end: a connection opened after it (a tunnel's) serves nothing either

  constructor(o: GuardOptions) {
    this.#o = o
  }

  opened(socket: Duplex): void {
    this.#entries.set(socket, this.#open.add(socket))
    watchRequests(socket)
    if (this.#end) endLane(socket, this.#end)
    socket.once('close', () => this.left(socket))
  }

  /** The socket became a CONNECT tunnel: no longer an HTTP connection of this server. */
  left(socket: Duplex): void {
    this.#open.remove(this.#entries.get(socket))
  }

  started(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket
    // Re-emitted from the tunnels' inner server: its guard owns the socket and limits (twice was work for nothing).
    if (this.#entries.get(socket)?.item !== socket) return
    const body = hasBody(req.headers)
    requestStarted(socket, body ? { req, res } : undefined)
    // The listener's one 'close' listener reports a bodiless answer (answersOnClose). Once its response is done Node forgets a request: if its
    // body never completes, whoever still reads it (undici, an API handler) must learn when the connection goes (no closure for the bodiless majority).
    if (!body && answersOnClose(res)) return
    const abandon = body ? (): void => void (req.complete || req.destroy()) : undefined
    if (abandon) socket.once('close', abandon)
    res.on('close', () => {
      requestAnswered(socket, req)
      if (this.#reading.get(socket)?.req === req) this.#reading.delete(socket)
      if (abandon && req.complete) socket.off('close', abandon)
    })
    if (this.#o.timeouts.bodyIdleMs <= 0 || !body) return
    this.#reading.set(socket, { req, res })
    socket.setTimeout(this.#o.timeouts.bodyIdleMs)
    req.once('end', () => {
      if (this.#reading.get(socket)?.req !== req) return
      this.#reading.delete(socket)
      socket.setTimeout(0)
    })
  }

  timedOut(socket: Socket): void {
    const current = this.#reading.get(socket)
    if (current && !current.req.complete) {
      if (starved(current.req)) return void socket.setTimeout(this.#o.timeouts.bodyIdleMs)
      this.#reading.delete(socket)
      return this.#expire(current.req, current.res, 'body_idle')
    }
    if (isAnswering(socket)) return // the response is on its way; upstream and send limits bound it
    this.#o.events.onTimeout?.(this.#o.listener, this.#o.idleReason ?? 'keep_alive')
    socket.destroy()
  }

  limitBufferedBody(req: IncomingMessage, res: ServerResponse): void {
    const ms = this.#o.timeouts.bufferedBodyMs
    if (ms <= 0 || req.complete || !hasBody(req.headers)) return
    // A body fully received counts as arrived, read or not: a slow handler is not a slow caller.
    const timer = setTimeout(() => void (req.complete || this.#expire(req, res, 'buffered_body')), ms)
    const stop = (): void => clearTimeout(timer)
    req.once('end', stop)
    res.once('close', stop)
  }

  limitSend(req: IncomingMessage, res: ServerResponse): SendStall | undefined {
    const ms = this.#o.timeouts.sendIdleMs ?? 0
    if (ms <= 0) return undefined
    // Only a stalled response (the caller's socket stopped taking bytes) pays for a timer.
    let timer: NodeJS.Timeout | undefined
    let watching = false
    const stop = (): void => void (clearTimeout(timer), (timer = undefined))
    return {
      start: () => {
        if (timer !== undefined) return
        timer = setTimeout(() => this.#expire(req, res, 'send_idle'), ms)
        if (!watching) res.once('close', stop)
        watching = true
      },
      stop,
    }
  }

  track(socket: Duplex, isIdle: () => boolean): void {
    const entry = this.#tunnels.add({ socket, isIdle })
    socket.once('close', () => this.#tunnels.remove(entry))
  }

  closeIdle(until = Infinity): void {
    for (const socket of this.#open.items()) if (!hasRequestInProgress(socket, this.#o.timeouts.headersMs, until) && !answerLeaving(socket)) socket.destroy()
    for (const { socket, isIdle } of this.#tunnels.items()) if (isIdle()) socket.destroy()
    for (const child of this.#children) child.closeIdle(until)
  }

  closeAll(): Promise<void> {
    const tunnels = this.#tunnels.items() // each carries an adopted guard's connection: closed once that one's answer has left
    return Promise.all([closeOnceAnswered(this.#open.items()), ...this.#children.map((child) => child.closeAll())]).then(() => tunnels.forEach(({ socket }) => socket.destroy()))
  }

  endLanes(end: LaneEnd): void {
    this.#end ??= end
    for (const socket of this.#open.items()) endLane(socket, this.#end)
    for (const child of this.#children) child.endLanes(end)
  }

  closeRefused(refused: (socket: Duplex) => boolean): void {
    for (const socket of this.#open.items()) if (!hasRequestInProgress(socket, this.#o.timeouts.headersMs) && !answerLeaving(socket) && refused(socket)) socket.destroy()
    for (const { socket } of this.#tunnels.items()) if (refused(socket)) socket.destroy()
    for (const child of this.#children) child.closeRefused(refused)
  }

  adopt(child: Child): void {
    this.#children.push(child)
  }

  /** A limit ended the request: answer 408 while nothing was sent, else cut the connection (a send-idle one also a response ended but stuck unsent). */
  #expire(req: IncomingMessage, res: ServerResponse, limit: Limit): void {
    if (expiryOf(req)) return
    const l = LIMITS[limit]
    const err = new GatewayError('request_timeout', `${l.what} ${(this.#o.timeouts[l.key] ?? 0) / 1000} s (${this.#o.configKey}.${l.name})`)
    if (endRequest(res, err, { surface: this.#o.surface, evenIfEnded: limit === 'send_idle' })) this.#o.events.onTimeout?.(this.#o.listener, limit)
  }
}
