/**
 * Per-endpoint upstream: an undici Agent whose connector dials with that endpoint's
 * SecureContext. The TLS session cache lives in the connector, so a resumed session can
 * never carry one bundle's identity to another endpoint's (or tenant bundle's) call.
 * The dial goes direct (egress-checked) or through an upstream HTTP proxy's CONNECT.
 * A bundle outside its validity period degrades the upstream: every request is refused
 * before it reaches the pool (no dial, no kept-alive connection, no resumed session).
 */
import { isIP, type LookupFunction, type Socket } from 'node:net'
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls'
import type { Dispatcher, buildConnector } from './undici-agent.js'
import { newOriginPools, type UpstreamPool } from './origin-pools.js'
import type { GatewayError } from '../errors.js'
import { degradation, refuseIfDegraded, refuseWhileDegraded } from './degraded-upstream.js'
import type { X509Certificate } from 'node:crypto'
import type { BundleValidity, ValidityFault } from '../tls/index.js'
import { connectInfo, type ConnectInfo } from './connect-info.js'
import type { EgressOptions } from './egress.js'
import type { ProxyTarget, Tunnel } from './proxy-tunnel.js'
import { connectTimeout, dialRaw, dialSettingsBy } from './upstream-dial.js'

export type { ConnectInfo } from './connect-info.js'
export type { UpstreamPool } from './origin-pools.js'

export interface UpstreamOptions {
  endpoint: string
  /** The tenant whose own bundle this upstream uses, for messages. */
  tenant?: string
  context: SecureContext
  /** The bundle's validity periods, checked against the clock at every request and dial. */
  validity?: BundleValidity
  serverName?: string
  resolve?: string
  pins: readonly string[]
  /** The server roots (`tls.roots`) when they are the only anchors (no `systemRoots`): each new connection reports the one its server's chain reached. */
  roots?: readonly X509Certificate[]
  connectMs: number
  responseMs: number
  idleMs: number
  keepAliveMs: number
  connections: number
  /** Most origins (a `{tenant}` host makes one per tenant) with a pool at once; a new one closes the least recently used idle pool. Default 256 (`endpoints[].originPools`'s). */
  originPools?: number
  /** Called for each pool closed to make room for a new origin (a metric). */
  onPoolEvicted?: () => void
  /** Dial-time address policy and DNS (egress checks run on the address actually dialled). */
  lookup?: LookupFunction
  /** The same policy for literal addresses (a pinned `resolve`, an IP host). */
  egress?: EgressOptions
  /** Reach the upstream through this HTTP proxy's CONNECT (a connector). */
  via?: ProxyTarget
  /** The only host:port this pool may dial (from the endpoint URL); anything else is refused before any byte is sent. */
  authority?: (hostname: string, port: number) => boolean
  /**
   * The endpoint's own origin(s): `resolve`, `serverName` and `pins` name it, so they apply to its
   * dials only. Another origin the pool may dial (a profile's token URL on another host) is dialled
   * by its own name, sent as SNI and verified as itself. Absent: every dial is the endpoint's own.
   */
  origin?: (hostname: string, port: number) => boolean
  /** Observes each new connection (metrics, logs). */
  onConnect?: (info: ConnectInfo) => void
}

export interface Upstream {
  /** Refuses with the fault's reason while the bundle is outside its validity period. */
  readonly dispatcher: Dispatcher
  /**
   * The proxy path's way in: one request with a dispatch handler, straight to the pool (no
   * interceptor chain); throws the fault's GatewayError while the bundle is degraded.
   */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void
  /** Time-based problems of the bundle at `now` (ms); empty when usable. */
  faults(now?: number): readonly ValidityFault[]
  /** The error a request gets at `now` (ms) while degraded; undefined when usable. */
  refusal(now?: number): GatewayError | undefined
  /** The pool now, over its origins: connections open, and requests waiting for one (all `connections` busy). */
  pool(): UpstreamPool
  /** A connector that dials exactly as this pool's does (egress, `resolve`, `via`, SNI, roots, pins, the bundle) with no cached session and no observer: a connection test's, outside the pool. */
  freshConnector(): buildConnector.connector
  close(): Promise<void>
}

const MAX_SESSIONS = 100

/** Builds the endpoint's connector: dial, SNI/name checks, pins, session cache (`sessions`), timeout; `observe` false: no onConnect report (a connection test's). */
export function createConnector(o: UpstreamOptions, sessions = new Map<string, Buffer>(), observe = true): buildConnector.connector {
  const settingsFor = dialSettingsBy(o)
  return (opts, callback) => {
    // The pool only dials after the request check, but the clock moves: a session made while
    // the bundle was valid must never be resumed after, so a degraded dial drops them all.
    const degraded = degradation(o)
    if (degraded) {
      sessions.clear()
      return callback(degraded, null)
    }
    const hostname = opts.hostname.replace(/^\[|\]$/g, '')
    const port = Number(opts.port) || 443
    const { name, sessionKey: cacheKey, resolve, identityCheck } = settingsFor(hostname, port)
    const started = performance.now()
    let socket: TLSSocket | undefined
    let raw: Socket | undefined
    let done = false
    const finish = (err: Error | null): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (observe && o.onConnect) o.onConnect(connectInfo(o, performance.now() - started, err === null ? socket : undefined, raw, err))
      if (err || !socket) {
        sessions.delete(cacheKey)
        socket?.destroy()
        raw?.destroy()
        callback(err ?? new Error('no socket'), null)
        return
      }
      socket.off('error', finish)
      // TLS 1.3: a server refusing the client certificate sends its alert after our
      // Finished, i.e. once the request is in flight. Node emits the alert as 'error' and
      // then 'end'; undici turns the 'end' into "other side closed", overwriting the
      // alert. Destroying on the alert keeps it as the error the request fails with.
      const s = socket
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code?.startsWith('ERR_SSL_')) s.destroy()
      })
      callback(null, s)
    }
    let tunnel: Tunnel | undefined
    // 0 turns the limit off, as for every other timeout (a 0 ms timer would fail every dial). A CONNECT under way fails as itself.
    const timer = o.connectMs > 0 ? setTimeout(() => finish(tunnel?.expire() ?? connectTimeout(o, hostname, port)), o.connectMs) : undefined
    const startTls = (tcp: Socket): void => {
      raw = tcp
      if (done) return void tcp.destroy()
      tcp.setNoDelay(true)
      const session = sessions.get(cacheKey)
      socket = tlsConnect({
        socket: tcp,
        ...(isIP(name) === 0 ? { servername: name } : {}),
        secureContext: o.context,
        checkServerIdentity: (_host, cert) => identityCheck(name, cert),
        ALPNProtocols: ['http/1.1'],
        ...(session ? { session } : {}),
      })
      socket.on('session', (s: Buffer) => {
        if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string)
        sessions.set(cacheKey, s)
      })
      socket.once('secureConnect', () => finish(null))
      socket.on('error', finish)
    }
    try {
      if (o.authority && !o.authority(hostname, port)) {
        throw Object.assign(new Error(`refused to dial ${hostname}:${port}: not the origin of endpoint "${o.endpoint}"`), { code: 'ERR_GATEWAY_ORIGIN_MISMATCH' })
      }
      const dialed = dialRaw(o, hostname, port, resolve)
      if ('answer' in dialed) (tunnel = dialed).answer.then(startTls, finish)
      else {
        raw = dialed
        dialed.once('error', finish)
        // Hand over on connect so DNS and TCP errors (incl. egress refusals) keep their codes.
        dialed.once('connect', () => {
          dialed.off('error', finish)
          startTls(dialed)
        })
      }
    } catch (err) {
      finish(err as Error)
    }
  }
}

/** The endpoint's connection pools (one per origin, at most `originPools`; keep-alive). */
export function createUpstream(o: UpstreamOptions): Upstream {
  const sessions = new Map<string, Buffer>()
  const agent = newOriginPools({
    connect: createConnector(o, sessions),
    connections: o.connections,
    keepAliveTimeout: o.keepAliveMs,
    keepAliveMaxTimeout: Math.max(o.keepAliveMs, 1000),
    headersTimeout: o.responseMs,
    bodyTimeout: o.idleMs,
    pipelining: 1,
  }, o.originPools ?? 256, () => o.onPoolEvicted?.(), o.endpoint)
  return {
    dispatcher: o.validity ? agent.compose(refuseWhileDegraded(o, sessions)) : agent,
    dispatch(opts, handler) {
      if (o.validity) refuseIfDegraded(o, sessions)
      agent.dispatch(opts, handler)
    },
    faults: (now) => o.validity?.faults(now) ?? [],
    refusal: (now) => degradation(o, now),
    pool: () => agent.counts(),
    freshConnector: () => createConnector(o, new Map(), false),
    close: () => agent.close(),
  }
}
