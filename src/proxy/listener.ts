/**
 * The one listener: absolute-form forward proxy, `/proxy/<endpoint>/…` route mode, and
 * `/gateway/…` API routes. Each request pins the current Gateway snapshot, so a reload
 * never disturbs it. Metrics and access logs observe `onDone`; they are not steps.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { GatewayError, type ErrorSurface } from '../errors.js'
import type { Gateway } from '../gateway/index.js'
import { createBody } from './body.js'
import { createCallerSignal } from './caller-signal.js'
import { handle, type Context, type Mode, type Pipeline, type RequestFacts, type UpstreamResponse } from './pipeline.js'
import { asGatewayError, writeError } from './write-error.js'
import { createConnectHandler, tunnelOf, type ConnectOptions, type Tunnel } from './connect.js'
import { relayedBytes } from './relayed-bytes.js'
import { endTrace } from './end-trace.js'
import type { Tracing } from '../tracing/index.js'

export interface GatewayRef {
  current: Gateway
}

export interface RequestRecord {
  id: string
  mode: Mode | 'api' | 'other'
  method: string
  status: number
  durationMs: number
  facts: RequestFacts
  error?: GatewayError
  /** Bytes read from and written to the caller's connection for this request, headers included. */
  requestBytes?: number
  responseBytes?: number
  /** The path of a `/gateway/…` request (for its span's route template; never logged). */
  apiPath?: string
}

/** Handles `/gateway/…`; returns false when the path is not one of its routes. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, gateway: Gateway, requestId: string) => Promise<boolean>

export interface ListenerOptions {
  ref: GatewayRef
  pipeline: Pipeline
  api?: ApiHandler
  onDone?: (record: RequestRecord) => void
  /** Serve TLS (and optionally require caller certificates). */
  tls?: TlsServerOptions
  /** CONNECT handling (interception, pass-through); without it CONNECT is refused. */
  connect?: Omit<ConnectOptions, 'inner'>
  /** Spans and W3C context; absent (tracing off): `traceparent` passes through untouched. */
  tracing?: Tracing
}

const ROUTE = /^\/proxy\/([a-z0-9][a-z0-9_-]*)(?:@([^/?]*))?(\/[^?]*)?(\?.*)?$/

/** Creates the (not yet listening) HTTP server. */
export function createListener(o: ListenerOptions): Server {
  const handler = (req: IncomingMessage, res: ServerResponse): void => void serveRequest(o, req, res)
  const server: Server = o.tls ? createTlsServer({ ...o.tls, keepAlive: true, requestTimeout: 0 }, handler) : createServer({ keepAlive: true, requestTimeout: 0 }, handler)
  if (o.connect) {
    // Inner requests of intercepted tunnels are parsed by a second, never-listening server.
    // Re-emitted on the main server, so whatever observes its requests (in-flight
    // tracking for reload and drain) sees tunnelled requests too.
    const inner = createServer({ keepAlive: true, requestTimeout: 0 }, (req, res) => void server.emit('request', req, res))
    server.on('connect', createConnectHandler({ ...o.connect, inner, ...(o.tracing ? { tracing: o.tracing } : {}) }))
  } else {
    server.on('connect', (req: IncomingMessage, socket) => {
      const body = JSON.stringify({ errors: [{ msg: `CONNECT ${req.url ?? ''} refused: TLS interception is not configured`, code: 403 }] })
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    })
  }
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 53\r\n\r\n{"errors":[{"msg":"malformed HTTP request","code":400}]}')
  })
  return server
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID()
}

function noRoute(req: IncomingMessage, url: string): GatewayError {
  return new GatewayError('not_found', `no route for ${req.method ?? 'GET'} ${url.split('?')[0] ?? ''}: use an absolute URL (forward proxy), /proxy/<endpoint>/… or /gateway/…`)
}

async function serveRequest(o: ListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now()
  const gateway = o.ref.current
  const id = requestIdOf(req)
  const url = req.url ?? '/'
  const socket = req.socket
  const tunnel = tunnelOf(socket)
  const trace = o.tracing?.request(req.headers, tunnel?.trace)
  const facts: RequestFacts = trace ? { trace } : {}
  let mode: RequestRecord['mode'] = 'other'
  let surface: ErrorSurface = 'api'
  let error: GatewayError | undefined
  try {
    if (tunnel) {
      mode = 'connect'
      surface = 'proxy'
      await proxy(o, gateway, req, res, id, 'connect', new URL(`https://${tunnel.authority}${url.startsWith('/') ? url : '/'}`), facts, undefined, tunnel)
    } else if (/^https?:\/\//i.test(url)) {
      mode = 'forward'
      surface = 'proxy'
      await proxy(o, gateway, req, res, id, 'forward', new URL(url), facts)
    } else if (url.startsWith('/proxy/')) {
      mode = 'route'
      const m = ROUTE.exec(url)
      if (!m) throw new GatewayError('bad_request', 'route mode expects /proxy/<endpoint>/<path>')
      const route = { endpoint: m[1] as string, path: (m[3] ?? '/') + (m[4] ?? ''), ...(m[2] !== undefined ? { tenant: m[2] } : {}) }
      await proxy(o, gateway, req, res, id, 'route', new URL(url, 'http://gateway.invalid'), facts, route)
    } else if (url.startsWith('/gateway/') && o.api) {
      mode = 'api'
      const api = o.api
      if (!(await (trace && o.tracing ? o.tracing.api(trace, () => api(req, res, gateway, id)) : api(req, res, gateway, id)))) throw noRoute(req, url)
    } else {
      throw noRoute(req, url)
    }
  } catch (err) {
    error = asGatewayError(err)
    writeError(res, error, surface, id)
    if (!req.complete) req.resume()
  } finally {
    const record: RequestRecord = { id, mode, method: req.method ?? 'GET', status: res.statusCode, durationMs: 0, facts, ...(error ? { error } : {}), ...(mode === 'api' ? { apiPath: url } : {}) }
    const report = (): void => {
      const done: RequestRecord = { ...record, ...relayedBytes(socket), status: res.statusCode, durationMs: performance.now() - started }
      o.onDone?.(done)
      if (trace) endTrace(trace, done)
    }
    if (res.writableFinished || res.destroyed) report()
    else res.once('close', report)
  }
}

async function proxy(
  o: ListenerOptions,
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  mode: Mode,
  target: URL,
  facts: RequestFacts,
  route?: Context['route'],
  tunnel?: Tunnel,
): Promise<void> {
  const abort = createCallerSignal()
  let upstreamBody: UpstreamResponse['body'] | undefined
  res.once('close', () => {
    if (res.writableFinished) return
    abort.abort(new Error('caller went away'))
    upstreamBody?.destroy()
  })
  const length = req.headers['content-length']
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
  const headers = { ...(req.headers as Record<string, string | string[]>) }
  headers['x-request-id'] = id
  const ctx: Context = {
    id,
    mode,
    gateway,
    inbound: {
      method: req.method ?? 'GET',
      target,
      headers: req.headers,
      ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
      ...tlsFacts(req),
    },
    ...(route ? { route } : {}),
    ...(tunnel?.caller ? { tunnel: { caller: tunnel.caller } } : {}),
    signal: abort.signal,
    facts,
    auth: {},
    outbound: {
      method: req.method ?? 'GET',
      url: target,
      headers,
      body: createBody(hasBody ? req : undefined, gateway.config.limits.maxBufferedBody, length === undefined ? undefined : Number(length)),
    },
  }
  const upstream = await handle(o.pipeline, ctx)
  upstream.headers['x-request-id'] = id
  res.writeHead(upstream.status, upstream.headers)
  // pipe() and events rather than stream.pipeline(): the same outcome without the
  // AbortController and DOMException pipeline() makes for every response. The upstream or
  // the caller breaking the stream mid-body cuts both sides (the 'close' handler above),
  // never crashes; onDone reports when the response closes.
  upstreamBody = upstream.body
  upstreamBody.once('error', () => res.destroy())
  res.once('error', () => upstream.body.destroy())
  if (res.destroyed) upstream.body.destroy()
  else upstream.body.pipe(res)
}

/** The caller's verified client certificate, when the listener serves TLS. */
function tlsFacts(req: IncomingMessage): { tls?: NonNullable<Context['inbound']['tls']> } {
  const socket = req.socket as TLSSocket
  if (typeof socket.getPeerCertificate !== 'function') return {}
  const cert = socket.getPeerCertificate()
  if (!cert || !cert.subject) return { tls: { authorized: false, sans: [] } }
  const sans = (cert.subjectaltname ?? '').split(',').map((s) => s.trim().replace(/^(DNS|URI|IP Address):/, '')).filter(Boolean)
  const cn = cert.subject.CN
  return { tls: { authorized: socket.authorized, ...(typeof cn === 'string' ? { subjectCN: cn } : {}), sans } }
}
