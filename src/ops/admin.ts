/**
 * The admin listener: /metrics, /healthz, /readyz. A separate server on its own address
 * (loopback by default), so scrapes and probes never share a port or a queue with calls;
 * HTTPS with admin.tls, whose client certificates the console may accept instead of the token.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { nodeHttp } from '../process/index.js'
import type { Logger } from 'pino'
import type { AdminTimeoutsConfig, ConnectionLimitsConfig } from '../config/index.js'
import { noteServedTls, type ServerTls } from '../tls/index.js'
import { closeUntrustedOnReload } from '../proxy/untrusted-connection.js'
import { GatewayError, methodNotAllowed } from '../errors.js'
import { guardConnections, type ConnectionEvents } from '../proxy/connection-guard.js'
import { writeError } from '../proxy/write-error.js'
import { hasBody } from '../proxy/body.js'
import type { AuthFailure } from '../callers/index.js'
import { inTurn } from '../proxy/in-turn.js'
import { admitAdminRequest, type AdminListener } from './admin-admission.js'
import { bindListener, warnBindFallback } from '../proxy/bind-listener.js'
import { CHECK_BUDGET_MS } from './answer-budget.js'

/** An injected readiness check (e.g. the store's ping); throwing means not ready. */
export interface ReadinessProbe {
  readonly name: string
  check(): Promise<void>
  /** Whether a failure makes the process not ready (default yes); otherwise it is a note. Asked at each probe. */
  gates?(): boolean
}

/** /readyz: ready, or the reasons it is not; notes are failures that do not gate readiness. */
export interface Readiness {
  ready: boolean
  reasons: string[]
  notes?: string[]
}

/** Address and the two providers the admin routes answer from. */
export interface AdminOptions {
  host: string
  port: number
  /** The Prometheus exposition. */
  metrics(): Promise<{ contentType: string; body: string }>
  readiness(): Promise<Readiness>
  /** admin.timeouts and admin.connections. */
  limits: { timeouts: AdminTimeoutsConfig; connections: ConnectionLimitsConfig }
  /** admin.tls, files read (inspectListeners): serve HTTPS, and ask for (or require) client certificates from its clientCa. */
  tls?: ServerTls
  events?: ConnectionEvents
  /** Routes under a path prefix answered by someone else (the console), any method. */
  extra?: AdminRoutes
  /** A client refused (caller_auth_failures_total): a connection a reload's admin.tls trust no longer admits. */
  onAuthFailure?: (label: AuthFailure) => void
  /** admin.allowedHosts of the config in force (read per request: a reload changes it). */
  allowedHosts(): readonly string[]
  /** Where a `::` that fell back to `0.0.0.0` is said (warnBindFallback). */
  log?: Pick<Logger, 'warn'>
}

/** A sub-tree of the admin listener (e.g. `/console/`) served by another module. */
export interface AdminRoutes {
  /** Ends with `/`; the same path without the slash is routed here too. */
  readonly prefix: string
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>
  /** Stops its timers when the admin listener closes. */
  close?(): void
  /** Whether a 404 names the prefix among the routes to use (the console: while it is on). */
  listed?(): boolean
}

/** The listening admin server. */
export interface AdminServer {
  readonly url: string
  /** Where it listens, for its start-up line (bind-listener.ts). */
  readonly on: string
  readonly server: Server
  close(): Promise<void>
}


/** Runs every probe (bounded by a timeout) and adds its failure to `reasons`. */
export async function runProbes(probes: readonly ReadinessProbe[], reasons: string[] = []): Promise<Readiness> {
  const results = await Promise.all(
    probes.map(async (p) => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_BUDGET_MS} ms`)), CHECK_BUDGET_MS)
      })
      try {
        await Promise.race([p.check(), timeout])
        return undefined
      } catch (e) {
        return { gates: p.gates?.() ?? true, text: `${p.name}: ${e instanceof Error ? e.message : String(e)}` }
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  const failed = results.filter((r) => r !== undefined)
  const all = [...reasons, ...failed.filter((r) => r.gates).map((r) => r.text)]
  const notes = failed.filter((r) => !r.gates).map((r) => r.text)
  return { ready: all.length === 0, reasons: all, ...(notes.length > 0 ? { notes } : {}) }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/**
 * Nothing an admin answer holds is a page to frame, sniff or run: metrics, probes, JSON errors. Set on
 * every answer, the refusals made before any route included (a console path's 421 for a rebinding
 * Host lacked them); the console's own answers replace the policy with theirs.
 */
const ADMIN_HARDENING: readonly (readonly [string, string])[] = [
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
]

/** Answers a GET or HEAD of /metrics, /healthz, /readyz, or the 404 naming them. */
async function answerRoute(o: AdminOptions, res: ServerResponse, path: string, close: boolean): Promise<void> {
  if (path === '/metrics') {
    const m = await o.metrics()
    res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(m.body) })
    res.end(m.body)
  } else if (path === '/healthz') {
    json(res, 200, { status: 'ok' })
  } else if (path === '/readyz') {
    const r = await o.readiness()
    const notes = r.notes && r.notes.length > 0 ? { notes: r.notes } : {}
    json(res, r.ready ? 200 : 503, r.ready ? { status: 'ready', ...notes } : { status: 'not_ready', reasons: r.reasons, ...notes })
  } else {
    const routes = ['/metrics', '/healthz', '/readyz', ...(o.extra?.listed?.() ? [o.extra.prefix] : [])]
    writeError(res, new GatewayError('not_found', `no admin route ${path}: use ${routes.slice(0, -1).join(', ')} or ${routes.at(-1)}`), 'api', { close })
  }
}

/** What /metrics, /healthz and /readyz take (the console's routes say their own). */
const ADMIN_METHODS: readonly [string, ...string[]] = ['GET', 'HEAD']

/** Starts the admin server; resolves once listening. */
export async function startAdmin(o: AdminOptions): Promise<AdminServer> {
  // How requests may name this listener (absolute-form), built once at start-up (not per request): `server` is bound before any arrives.
  const listener: AdminListener = { ...o, tls: o.tls !== undefined, address: () => server.address() }
  // One request of a connection at a time, as on the proxy listener (pipelined.ts): a request
  // pipelined behind an answer sent with Connection: close is never served (RFC 9112 §9.6).
  const handler = inTurn((req, res) => {
    for (const [name, value] of ADMIN_HARDENING) res.setHeader(name, value)
    const fail = (e: unknown): void => void writeError(res, new GatewayError('internal', `admin: ${e instanceof Error ? e.message : String(e)}`), 'api')
    const admitted = admitAdminRequest(listener, req)
    if ('error' in admitted) return void writeError(res, admitted.error, 'api', { close: admitted.close })
    const { path } = admitted
    const extra = o.extra
    if (extra && (path.startsWith(extra.prefix) || path === extra.prefix.slice(0, -1))) return void extra.handle(req, res, path).catch(fail)
    // A body is never read here: with one, the connection closes after the answer.
    const close = hasBody(req.headers)
    if (req.method !== 'GET' && req.method !== 'HEAD') return void writeError(res, methodNotAllowed(ADMIN_METHODS, `${req.method ?? ''} ${path} is not served`), 'api', { close })
    answerRoute(o, res, path, close).catch(fail)
  }, (_req, res, refusal) => writeError(res, refusal, 'api', { close: true }))
  const handshakeTimeout = o.limits.timeouts.tlsHandshakeMs || undefined
  // Listener options (not per request).
  const server: Server = o.tls ? createTlsServer({ ...o.tls, handshakeTimeout }, handler) : nodeHttp().createServer(handler)
  if (o.tls) {
    noteServedTls(server, o.tls)
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') o.events?.onTimeout?.('admin', 'tls_handshake')
    })
  }
  const guard = guardConnections(server, { listener: 'admin', configKey: 'admin.timeouts', ...o.limits, surface: 'api', events: o.events ?? {}, methods: ADMIN_METHODS })
  if (o.tls) closeUntrustedOnReload(server, guard)
  const binding = await bindListener(server, { port: o.port, host: o.host, key: 'admin.host', tls: o.tls !== undefined })
  if (binding.fallback && o.log) warnBindFallback(o.log, binding.fallback)
  return {
    url: binding.url,
    on: binding.on,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        o.extra?.close?.()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
