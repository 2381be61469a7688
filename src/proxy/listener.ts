/**
 * The one listener: absolute-form forward proxy, `/proxy/<endpoint>/…` route mode, and `/gateway/…` API routes. Each request pins
 * the Gateway snapshot in force when its turn comes (pin-snapshot.ts), so a reload never disturbs it. Metrics and access logs observe `onDone`.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { nodeHttp } from '../process/index.js'
import { needsOneStoreWait, withOneStoreWait } from '../store/index.js'
import { GatewayError, statusOf } from '../errors.js'
import { wayInRefusal, type Gateway } from '../gateway/index.js'
import { continueSender, expectationRefusal, hasBody } from './body.js'
import type { Pipeline, RequestFacts } from './pipeline.js'
import { asGatewayError, writeError, writeRawError } from './write-error.js'
import { createConnectHandler, tunnelOf, type ConnectOptions } from './connect.js'
import { newRequestId, requestIdOf } from './request-id.js'
import { reportListenerHandshakes } from './listener-handshake.js'
import type { RequestRecord } from './request-record.js'
import { guardConnections, type ConnectionEvents, type ConnectionGuard } from './connection-guard.js'
import { headRefusal } from './client-error.js'
import { PROXY_METHODS } from './max-forwards.js'
import { callerAborted, enterWay, wayIn, type Outcome } from './outcome.js'
import { pinSnapshot } from './pin-snapshot.js'
import { awaitTurn, expiryOf } from './request-expiry.js'
import type { ProxyRun } from './proxy-request.js'
import { serveWay } from './serve-way.js'
import { recordCallerConnection } from './caller-connection.js'
import { endTrace, traceRequest } from './end-trace.js'
import type { Tracing } from '../tracing/index.js'
import { noteServedTls, type ServerTls } from '../tls/index.js'
import { closeRefusedOnReload, refuseAfterReload, type OnAuthFailure } from './outdated-tunnel.js'
import { closingAfterUpgrade, drainAwareResponse } from './drain-response.js'
import { enter, leave } from './pipelined.js'
import { requestAnswered, type AnsweredOnClose } from './request-progress.js'

export type { RequestRecord } from './request-record.js'

export interface GatewayRef {
  current: Gateway
}

/** Handles `/gateway/…`; returns false when the path is not one of its routes. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, gateway: Gateway, requestId: string) => Promise<boolean>

export interface ListenerOptions {
  ref: GatewayRef
  pipeline: Pipeline
  api?: ApiHandler
  onDone?: (record: RequestRecord) => void
  /** Timeouts, refusals and parse errors (metrics, debug lines). */
  events?: ConnectionEvents
  /** Serve TLS (and optionally require caller certificates). */
  tls?: ServerTls
  /** CONNECT handling (interception, pass-through); without it CONNECT is refused. */
  connect?: Omit<ConnectOptions, 'inner' | 'limits' | 'track' | 'onTimeout' | 'tracing'>
  /** Spans and W3C context; absent (tracing off): `traceparent` passes through untouched. */
  tracing?: Tracing
  /** A caller refused (caller_auth_failures_total): here, a connection a reload's caller trust no longer admits. */
  onAuthFailure?: OnAuthFailure
}

/** Creates the (not yet listening) HTTP server; its limits are read from the config at start. */
export function createListener(o: ListenerOptions): Server {
  const listen = o.ref.current.config.listen
  const t = listen.timeouts
  // This and the options below are built once per listener (not per request).
  const events: ConnectionEvents = { ...o.events, onRejected: (listener, err, connection, req) => { o.events?.onRejected?.(listener, err, connection, req); if (!req || !expiryOf(req)) rejected(o, err, connection, req) } }
  // `at` is made once, below, before any request can come (a literal here made one per request).
  const handler = oneStoreWaitEach(o.ref, (req, res) => serveRequest(o, at, req, closingAfterUpgrade(req, res)))
  const options: ServerOptions = { keepAlive: true, requestTimeout: 0, ServerResponse: drainAwareResponse(() => server.listening) }
  const tlsServer = o.tls ? createTlsServer({ ...o.tls, ...options, handshakeTimeout: t.tlsHandshakeMs || undefined }, handler) : undefined  // listener options (not per request)
  const server: Server = tlsServer ?? nodeHttp().createServer(options, handler)
  if (o.tls) noteServedTls(server, o.tls)
  const g = guardConnections(server, { listener: 'proxy', configKey: 'listen.timeouts', timeouts: t, connections: listen.connections, surface: 'proxy', events, methods: PROXY_METHODS })
  const at = { guard: g, server }
  closeRefusedOnReload(server, tlsServer !== undefined, g)
  // A handshake that never completes is a line of its own (no request follows it).
  if (tlsServer) reportListenerHandshakes(tlsServer, { limitMs: t.tlsHandshakeMs, onTimeout: () => events.onTimeout?.('proxy', 'tls_handshake'), ...(o.tracing ? { tracing: o.tracing } : {}), ...(o.onDone ? { onDone: o.onDone } : {}) })
  if (o.connect) {
    // Inner requests of intercepted tunnels are parsed by a second, never-listening server.
    // Re-emitted on the main server, so whatever observes its requests (in-flight
    // tracking for reload and drain) sees tunnelled requests too.
    const inner = nodeHttp().createServer(options, (req, res) => void server.emit('request', req, res))
    // Between inner requests a tunnel is idle: its keep-alive limit is the tunnel's; options built once (not per request).
    g.adopt(guardConnections(inner, { listener: 'tunnel', configKey: 'listen.timeouts', timeouts: { ...t, keepAliveMs: t.tunnelIdleMs }, surface: 'proxy', events, idleReason: 'tunnel_idle', methods: PROXY_METHODS }))
    // Node starts its header-deadline checks on 'listening'; this server never listens.
    inner.emit('listening')
    const limits = { tlsHandshakeMs: t.tlsHandshakeMs, tunnelIdleMs: t.tunnelIdleMs }
    const tracing = o.tracing ? { tracing: o.tracing } : {}
    const onDone = o.onDone ? { onDone: o.onDone } : {}
    // Handler options, built once (not per request).
    server.on('connect', createConnectHandler({ ...o.connect, inner, limits, track: (socket, isIdle) => g.track(socket, isIdle), onTimeout: (reason) => events.onTimeout?.('tunnel', reason), ...tracing, ...onDone }))
  } else {
    server.on('connect', (req: IncomingMessage, socket) => {
      const err = headRefusal(req) ?? wayInRefusal(o.ref.current, 'connect') ?? new GatewayError('endpoint_not_configured', `CONNECT ${req.url ?? ''} refused: TLS interception is not configured`)
      writeRawError(socket, err, 'proxy')
      rejected(o, err, socket, req)
    })
  }
  return server
}

/**
 * A request refused before any handler saw it — by Node's parser (no request), or a CONNECT
 * where none is served (inside an intercepted tunnel: the tunnel's caller) — is logged and
 * counted like any other. (One the guard ended itself, its body turned malformed, has its own line.)
 */
function rejected(o: ListenerOptions, error: GatewayError, connection: Duplex, req?: IncomingMessage): void {
  const tunnel = req ? tunnelOf(req.socket) : undefined
  const facts: RequestFacts = tunnel?.caller ? { caller: tunnel.caller.appId } : {}
  const mode = tunnel || req?.method === 'CONNECT' ? 'connect' : 'other'
  const record: RequestRecord = { id: newRequestId(), mode, method: req?.method ?? '-', status: statusOf(error.reason, 'proxy'), durationMs: 0, facts, error }
  // A CONNECT's socket is handed over raw; a refused request's is the connection it came on.
  if (connection instanceof Socket) recordCallerConnection(connection, record)
  // Its own span for its line's ids, under the context it sent, else its tunnel's (a head Node refused: none to read).
  if (o.tracing) endTrace((facts.trace = o.tracing.request(req?.headers ?? {}, (tunnel ?? tunnelOf(connection))?.trace)), record)
  o.onDone?.(record)
}

/** The request handler: each request (a tunnel's inner ones each) waits for the store once (docs/store.md), its scope entered where a store operation can wait (request-wait.ts). */
function oneStoreWaitEach(ref: GatewayRef, serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => void (needsOneStoreWait(ref.current.config.store.kind) ? withOneStoreWait(serve, req, res) : serve(req, res))
}

async function serveRequest(o: ListenerOptions, at: { guard: ConnectionGuard; server: Server }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now()
  const url = req.url ?? '/'
  const socket = req.socket
  const tunnel = tunnelOf(socket)
  const id = requestIdOf(req, tunnel?.token)
  // Its spans start at its turn, under the sampler of the snapshot it is served under (traceRequest).
  const out: Outcome = { mode: 'other', surface: 'api', facts: {} }
  const onDemand = continueSender(req, res)
  // Made when this request's turn comes, under the snapshot then in force: nothing reads one before.
  let run: ProxyRun | undefined
  // One 'close' listener per request ('on': once() costs a wrapper and a removal), not one per concern (each costs an emitter wrapper and array copies
  // on every response): it aborts a proxied call whose caller left or that the gateway ended (a limit, a drain's end), reports, then does the guard's part.
  let report: (() => void) | undefined
  // This connection's turn (pipelined.ts): held until this answer is done.
  let held = false
  let refused = false
  res.on('close', () => {
    if (held) leave(socket, res)
    if (!res.writableFinished || expiryOf(req)) run?.presence?.leave(new Error('caller went away'))
    report?.()
    if ((res as ServerResponse & AnsweredOnClose).answeredOnClose) requestAnswered(socket, req)
  })
  try {
    const turn = enter(socket)
    if (turn instanceof GatewayError) throw ((refused = true), turn)
    // Pipelined behind an unanswered request: wait for it (a closed connection serves nothing more; one the gateway ended, why).
    if (turn !== true) await awaitTurn(req, turn)
    held = true
    // Judged as a request arriving now is: a reload while it waited behind another is in force for it.
    run = { pipeline: o.pipeline, guard: at.guard, gateway: pinSnapshot(at.server, o.ref, res), req, res, id, out, onDemand } // onDemand undefined or not: a conditional spread copied an object
    if (o.tracing) traceRequest(o.tracing, out, req, { startedMs: started, tunnel, gateway: run.gateway }) // off: no options object
    const way = wayIn(url, tunnel !== undefined, o.api !== undefined)
    // A connection the caller trust in force refuses (407 on the proxy path, 401 in route mode and on the
    // gateway API), or an intercepted tunnel a reload outdated: answered with Connection: close.
    const untrusted = refuseAfterReload(socket, tunnel, run.gateway, o.onAuthFailure)
    if (untrusted) throw ((refused = true), enterWay(out, way), untrusted)
    // Both answered here, not by Node (answerHeadsInHandlers); a 100 Continue goes only with the body's first read (onDemand).
    const refusedHead = headRefusal(req) ?? expectationRefusal(req)
    if (refusedHead) throw refusedHead
    enterWay(out, way)
    await serveWay(o, run, way, tunnel)
  } catch (err) {
    if (o.tracing) traceRequest(o.tracing, out, req, { startedMs: started, tunnel })
    // The caller left first: what failed after (an aborted upstream call) is a consequence.
    out.error = (res.destroyed || socket.destroyed) && !res.writableFinished ? callerAborted() : asGatewayError(err)
    // A body left unread is not read to its end (a 413 does not swallow 1 GiB): the connection closes.
    const unread = hasBody(req.headers) && !req.complete
    // Refused by its connection (pipelined past the limit, a drain's end) or its trust: it closes after this answer.
    const close = unread || refused
    if (!expiryOf(req) && !res.destroyed && !socket.destroyed && !socket.writableEnded) writeError(res, out.error, out.surface, { requestId: id, close })
    // Discard (not process) what is in flight while the connection closes: see writeError.
    if (unread) req.resume()
  } finally {
    const done = (): void => {
      // The limit that fired is what ended the request; a response cut with no other cause is the caller leaving.
      const error = expiryOf(req) ?? out.error ?? (res.writableFinished ? undefined : callerAborted())
      // A response never started has no status of its own: the error's (499 for a caller that left).
      const status = !res.headersSent && error ? statusOf(error.reason, out.surface) : res.statusCode
      // One object, fields assigned: spreading partial records cost copies on every request.
      const done: RequestRecord = { id, mode: out.mode, method: req.method ?? 'GET', status, durationMs: performance.now() - started, facts: out.facts }
      if (error) done.error = error
      recordCallerConnection(socket, done, held || res.writableEnded, run?.clientAddress)
      if (out.mode === 'api') done.apiPath = url
      o.onDone?.(done)
      if (out.facts.trace) endTrace(out.facts.trace, done)
    }
    // A request let go unserved while it waited for its turn has no response to close (unless refused in its place).
    if (res.writableFinished || res.destroyed || (!held && (!res.writableEnded || socket.destroyed || socket.writableEnded))) done()
    else report = done
  }
}
