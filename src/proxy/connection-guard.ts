/**
 * One HTTP server's defence against slow, silent and greedy clients: headers, body-idle,
 * buffered-body and keep-alive limits, connection caps, parse errors answered by the one
 * error writer, and a drain that closes every connection with no request in progress
 * (silent, idle, half-open, tunnels) rather than only those Node calls idle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { Duplex, Readable } from 'node:stream'
import type { ClientTimeoutsConfig, ConnectionLimitsConfig } from '../config/index.js'
import { GatewayError, type ErrorSurface } from '../errors.js'
import { writeError, writeRawError } from './write-error.js'
import { clientErrorOf } from './client-error.js'
import { hasBody } from './body.js'

/** Which listener an event happened on (label value). */
export type ListenerName = 'proxy' | 'admin' | 'tunnel'
/** Why a connection was closed by a limit (label value). */
export type TimeoutReason = 'headers' | 'body_idle' | 'buffered_body' | 'send_idle' | 'keep_alive' | 'tls_handshake' | 'tunnel_idle'
/** Why a new connection was refused (label value). */
export type RefusalReason = 'max_connections' | 'per_address' | 'fd_exhausted'

/** What the guard reports; ops turns these into metrics and debug lines. */
export interface ConnectionEvents {
  onTimeout?(listener: ListenerName, reason: TimeoutReason): void
  onRefused?(listener: ListenerName, reason: RefusalReason): void
  /** A request answered by the guard itself (Node's parser refused it). */
  onRejected?(listener: ListenerName, err: GatewayError): void
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
}

/** The guard of one server. */
export interface ConnectionGuard {
  /** Bounds the time a body the gateway reads whole may take to arrive. */
  limitBufferedBody(req: IncomingMessage, res: ServerResponse): void
  /** Cuts the connection when the caller stops reading `source` piped into the response (sendIdle). */
  limitSend(req: IncomingMessage, res: ServerResponse, source: Readable): void
  /** Tracks a connection that left HTTP (a CONNECT tunnel); drain closes it when isIdle(). */
  track(socket: Duplex, isIdle: () => boolean): void
  /** Closes connections with no request in progress, here and in adopted guards. */
  closeIdle(): void
  closeAll(): void
  /** Another guard (the tunnels' inner server) whose connections drain with this one. */
  adopt(child: Pick<ConnectionGuard, 'closeIdle' | 'closeAll'>): void
}

const expiries = new WeakMap<IncomingMessage, GatewayError>()

/** The limit that ended this request, if one did: it is the truth, whatever failed after it. */
export function expiryOf(req: IncomingMessage): GatewayError | undefined {
  return expiries.get(req)
}


/** The reader stopped asking for bytes (backpressure): the silence is ours, not the client's. */
const starved = (req: IncomingMessage): boolean => req.isPaused() || req.readableLength >= req.readableHighWaterMark

/** Applies the limits to `server` (before it listens) and returns its guard. */
export function guardConnections(server: Server, o: GuardOptions): ConnectionGuard {
  const t = o.timeouts
  const report = o.events
  server.requestTimeout = 0
  server.headersTimeout = t.headersMs
  server.keepAliveTimeout = t.keepAliveMs
  // Node checks header deadlines on this interval: fine enough for any limit it enforces.
  ;(server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(t.headersMs / 4) || 1000))
  if (o.connections) server.maxConnections = o.connections.max
  const open = new Set<Duplex>()
  const busy = new WeakSet<Duplex>()
  const tunnels = new Map<Duplex, () => boolean>()
  const reading = new WeakMap<Duplex, { req: IncomingMessage; res: ServerResponse }>()
  const children: Pick<ConnectionGuard, 'closeIdle' | 'closeAll'>[] = []
  const sendIdleMs = t.sendIdleMs ?? 0
  const limits = {
    body_idle: { ms: t.bodyIdleMs, key: 'bodyIdle', what: 'request body paused for more than' },
    buffered_body: { ms: t.bufferedBodyMs, key: 'bufferedBody', what: 'request body did not arrive within' },
    send_idle: { ms: sendIdleMs, key: 'sendIdle', what: 'the caller read none of the response for' },
  }

  const expire = (req: IncomingMessage, res: ServerResponse, reason: keyof typeof limits): void => {
    if (expiries.has(req) || (res.writableEnded && reason !== 'send_idle')) return
    const l = limits[reason]
    const err = new GatewayError('request_timeout', `${l.what} ${l.ms / 1000} s (${o.configKey}.${l.key})`)
    expiries.set(req, err)
    report.onTimeout?.(o.listener, reason)
    if (res.headersSent) req.socket.destroy()
    else writeError(res, err, o.surface, { close: true })
  }

  // HTTP runs on the TLS socket of a TLS server: that is the one requests name.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Duplex) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  if (o.connections && o.connections.perAddress > 0) limitPerAddress(server, o.connections.perAddress, () => report.onRefused?.(o.listener, 'per_address'))
  server.on('drop', () => report.onRefused?.(o.listener, 'max_connections'))
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => void open.delete(socket))
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    busy.add(socket)
    const body = hasBody(req.headers)
    // Once its response is done Node forgets a request: if its body never completes, whoever
    // still reads it (undici, an API handler) must learn when the connection goes.
    const abandon = (): void => void (req.complete || req.destroy())
    if (body) socket.once('close', abandon)
    res.once('close', () => {
      busy.delete(socket)
      reading.delete(socket)
      if (body && req.complete) socket.off('close', abandon)
    })
    if (t.bodyIdleMs > 0 && body) {
      reading.set(socket, { req, res })
      socket.setTimeout(t.bodyIdleMs)
      req.once('end', () => {
        if (reading.get(socket)?.req !== req) return
        reading.delete(socket)
        socket.setTimeout(0)
      })
    }
  })
  // With a listener here Node no longer destroys timed-out sockets itself: every branch must.
  server.on('timeout', (socket: Socket) => {
    const current = reading.get(socket)
    if (current && !current.req.complete) {
      if (starved(current.req)) return void socket.setTimeout(t.bodyIdleMs)
      reading.delete(socket)
      return expire(current.req, current.res, 'body_idle')
    }
    if (busy.has(socket)) return // the response is on its way; upstream limits bound it
    report.onTimeout?.(o.listener, o.idleReason ?? 'keep_alive')
    socket.destroy()
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const refused = clientErrorOf(err, o.configKey, t.headersMs)
    // Not writable: already answered and closing (a client leaving then is no new error).
    if (!refused || !socket.writable) return void socket.destroy()
    if (refused.reason === 'request_timeout') report.onTimeout?.(o.listener, 'headers')
    else report.onRejected?.(o.listener, refused)
    // A response already on its way on this socket cannot be followed by another one.
    const inProgress = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
    if (inProgress?.headersSent) socket.destroy()
    else writeRawError(socket, refused, o.surface)
  })
  server.once('listening', () => {
    server.on('error', (err: NodeJS.ErrnoException) => {
      // Accept failures: out of descriptors is reported; anything else is transient.
      if (err.code === 'EMFILE' || err.code === 'ENFILE') report.onRefused?.(o.listener, 'fd_exhausted')
    })
  })

  const guard: ConnectionGuard = {
    limitBufferedBody(req, res) {
      if (t.bufferedBodyMs <= 0 || req.complete) return
      const timer = setTimeout(() => expire(req, res, 'buffered_body'), t.bufferedBodyMs)
      const stop = (): void => clearTimeout(timer)
      req.once('end', stop)
      res.once('close', stop)
    },
    limitSend(req, res, source) {
      if (sendIdleMs <= 0) return
      // 'pause' is the pipe's backpressure: the caller's socket stopped taking bytes.
      let timer: NodeJS.Timeout | undefined
      source.on('pause', () => {

        clearTimeout(timer)
        timer = setTimeout(() => expire(req, res, 'send_idle'), sendIdleMs)
      })
      source.on('resume', () => clearTimeout(timer))
      res.once('close', () => clearTimeout(timer))
    },
    track(socket, isIdle) {
      tunnels.set(socket, isIdle)
      socket.once('close', () => tunnels.delete(socket))
    },
    closeIdle() {
      for (const socket of open) if (!busy.has(socket)) socket.destroy()
      for (const [socket, isIdle] of tunnels) if (isIdle()) socket.destroy()
      for (const child of children) child.closeIdle()
    },
    closeAll() {
      for (const socket of [...open, ...tunnels.keys()]) socket.destroy()
      for (const child of children) child.closeAll()
    },
    adopt: (child) => void children.push(child),
  }
  // Drain (ops) and close() call these on the server: they now include what Node leaves open.
  const nodeCloseIdle = server.closeIdleConnections.bind(server)
  const nodeCloseAll = server.closeAllConnections.bind(server)
  server.closeIdleConnections = () => {
    nodeCloseIdle()
    guard.closeIdle()
  }
  server.closeAllConnections = () => {
    nodeCloseAll()
    guard.closeAll()
  }
  return guard
}

function limitPerAddress(server: Server, perAddress: number, refused: () => void): void {
  const counts = new Map<string, number>()
  // The raw TCP connection, before any TLS handshake: refused before it costs anything.
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? ''
    const n = (counts.get(address) ?? 0) + 1
    if (n > perAddress) {
      refused()
      return void socket.destroy()
    }
    counts.set(address, n)
    socket.once('close', () => {
      const left = (counts.get(address) ?? 1) - 1
      if (left > 0) counts.set(address, left)
      else counts.delete(address)
    })
  })
}
