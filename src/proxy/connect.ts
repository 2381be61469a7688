/**
 * CONNECT (HTTPS_PROXY): only configured hosts are accepted. The caller is authenticated
 * once per tunnel, its TLS is terminated with a leaf minted for the host by the
 * interception CA, and every inner request goes through the same pipeline as the plain
 * forward proxy. Hosts on the pass-through list are tunnelled as bytes, untouched.
 * Access lines: a refused CONNECT is one when refused; a pass-through tunnel is one when it
 * closes (its life, its bytes); an intercepted tunnel's lines are its inner requests'.
 */
import { randomUUID } from 'node:crypto'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import type { IncomingMessage, Server } from 'node:http'
import { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import { GatewayError, statusOf } from '../errors.js'
import { authFailureLabel } from '../callers/index.js'
import { checkLiteral, createEgressLookup, type EgressReason, type Gateway } from '../gateway/index.js'
import type { Minter } from '../tls/index.js'
import { authorizeCallerForAny, bearerFromHeaders, identifyCaller, refuseUnlessLocal, type AdmitOptions } from './steps/authenticate-caller.js'
import type { Caller, RequestFacts } from './pipeline.js'
import type { RequestRecord } from './listener.js'
import { writeRawError } from './write-error.js'
import { relayedBytes } from './relayed-bytes.js'
import { callerAborted } from './outcome.js'
import type { TimeoutReason } from './connection-guard.js'
import type { Tracing, TunnelTrace } from '../tracing/index.js'

/** What an intercepted tunnel carries to its inner requests. */
export interface Tunnel {
  readonly authority: string
  readonly caller?: Caller
  /** The bearer the CONNECT carried: each inner request re-checks it (expiry, revocation). */
  readonly token?: string
  /** The tunnel's span: inner requests without their own context are its children. */
  readonly trace?: TunnelTrace
}

const tunnels = new WeakMap<object, Tunnel>()

/** The tunnel an inner request's socket belongs to, if any. */
export function tunnelOf(socket: object): Tunnel | undefined {
  return tunnels.get(socket)
}

export interface ConnectOptions {
  current: () => Gateway
  /** The minter of that snapshot's interception CA (undefined when it has none). */
  minter: (gateway: Gateway) => Promise<Minter | undefined>
  /** The not-listening HTTP server that parses inner requests with the listener's handler. */
  inner: Server
  admit: AdmitOptions
  onTunnel?: (kind: 'intercepted' | 'pass_through' | 'refused') => void
  /** A refused CONNECT, and a pass-through tunnel once closed: one access line and one requests_total sample each. */
  onDone?: (record: RequestRecord) => void
  /** Counts pass-through refusals in egress_refusals_total. */
  onEgressRefusal?: (reason: EgressReason) => void
  /** listen.timeouts: the caller's TLS handshake inside the tunnel, and an idle pass-through tunnel. */
  limits: { tlsHandshakeMs: number; tunnelIdleMs: number }
  /** Hands a pass-through tunnel to the listener, which closes it on drain when idle. */
  track(socket: Duplex, isIdle: () => boolean): void
  onTimeout(reason: TimeoutReason): void
  tracing?: Tracing
}

/** Parses `host:port` (IPv6 in brackets); undefined when malformed. */
function parseAuthority(target: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(target)
  const port = Number(m?.[2])
  if (!m || port < 1 || port > 65535) return undefined
  return { host: (m[1] as string).replace(/^\[|\]$/g, '').toLowerCase(), port }
}

/** The listener's 'connect' event handler. */
export function createConnectHandler(o: ConnectOptions) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const started = performance.now()
    const facts: RequestFacts = {}
    socket.on('error', () => socket.destroy())
    // A pass-through tunnel's line, when it closes: how long it lived and what it carried.
    const closed = (passThrough: string): void => {
      const record: RequestRecord = { id: randomUUID(), mode: 'connect', method: 'CONNECT', status: 200, durationMs: performance.now() - started, facts, passThrough }
      relayedBytes(socket as Socket, record)
      o.onDone?.(record)
    }
    void handleConnect(o, req, socket, head, facts, closed).catch((err: unknown) => {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'internal error', { cause: err })
      const label = authFailureLabel(e)
      if (label) o.admit.onAuthFailure?.(label)
      // A caller that left before the answer was not refused.
      if (e.reason !== 'caller_aborted') o.onTunnel?.('refused')
      writeRawError(socket, e, 'proxy')
      // The cause of a 500 reaches the log through the access line (its stack), never the caller.
      o.onDone?.({ id: randomUUID(), mode: 'connect', method: 'CONNECT', status: statusOf(e.reason, 'proxy'), durationMs: performance.now() - started, facts, error: e })
    })
  }
}

async function handleConnect(o: ConnectOptions, req: IncomingMessage, socket: Duplex, head: Buffer, facts: RequestFacts, closed: (passThrough: string) => void): Promise<void> {
  const gateway = o.current()
  const target = parseAuthority(req.url ?? '')
  if (!target) throw new GatewayError('bad_request', 'CONNECT needs host:port')
  const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
  const interception = gateway.config.interception
  const endpoints = gateway.byHost.get(authority) ?? []
  const passThrough = interception?.passThrough.find((p) => p.host === target.host && p.port === target.port)
  if (endpoints.length === 0 && !passThrough) throw new GatewayError('endpoint_not_configured', `CONNECT to ${authority} refused: host is not configured on this gateway`)
  const callers = gateway.callers
  if (!callers.enabled) refuseUnlessLocal((socket as Socket).remoteAddress, socket instanceof TLSSocket && socket.authorized)
  const token = bearerFromHeaders(req.headers as Record<string, string | string[] | undefined>, false)
  const caller = callers.enabled ? await identifyCaller(token, undefined, gateway, o.admit) : undefined
  if (caller) facts.caller = caller.appId
  if (callers.required && !caller) throw new GatewayError('caller_credentials_missing', 'caller credentials required on CONNECT: send Proxy-Authorization: Bearer <token>')
  // An app that may use none of the host's endpoints is refused here, not on each inner request.
  if (caller && endpoints.length > 0) authorizeCallerForAny(caller, endpoints, callers)
  if (endpoints.length === 0 && passThrough) return passBytes(socket, head, target.host, target.port, passThrough.allowPrivate, o, () => closed(authority))
  if (!interception || !gateway.interception) throw new GatewayError('endpoint_not_configured', `CONNECT to ${authority} refused: TLS interception is not configured (interception.caCert)`)
  // Judged at each CONNECT, like a bundle's dates: an expired CA stops interception only (503:
  // the gateway's own signing identity is unusable for now, no upstream was asked).
  const fault = gateway.interception.validityFault()
  if (fault) throw new GatewayError('unavailable', `CONNECT to ${authority} refused: TLS interception is unavailable: ${fault}`)
  const minter = await o.minter(gateway)
  if (!minter) throw new TypeError('a snapshot with an interception CA has no minter')
  // Mint (or fetch) the CONNECT host's leaf before answering, so a client without SNI gets it too.
  const fallback = await minter.contextFor(target.host)
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
  if (head.length > 0) socket.unshift(head)
  const tls = new TLSSocket(socket as Socket, {
    isServer: true,
    secureContext: fallback,
    ALPNProtocols: ['http/1.1'],
    SNICallback: (servername, cb) => {
      // Mint for the SNI name only when it is itself a configured host: an arbitrary SNI
      // would let a caller fill the leaf cache and burn CPU with names nobody configured.
      const sni = servername.toLowerCase()
      const name = sni && gateway.byHost.has(`${sni}:${target.port}`) ? sni : target.host
      minter.contextFor(name).then((ctx) => cb(null, ctx), (e: Error) => cb(e, undefined))
    },
  })
  tls.on('error', () => tls.destroy())
  if (o.limits.tlsHandshakeMs > 0) {
    // A caller that never finishes (or never starts) its handshake holds a socket: bounded.
    const timer = setTimeout(() => {
      o.onTimeout('tls_handshake')
      tls.destroy()
    }, o.limits.tlsHandshakeMs)
    const stop = (): void => clearTimeout(timer)
    tls.once('secure', stop).once('close', stop)
  }
  const trace = o.tracing?.tunnel(req.headers, target.host, target.port)
  if (trace) tls.once('close', () => trace.end())
  tunnels.set(tls, { authority, ...(caller ? { caller } : {}), ...(caller && token !== undefined ? { token } : {}), ...(trace ? { trace } : {}) })
  o.onTunnel?.('intercepted')
  o.inner.emit('connection', tls)
}

/** Pass-through: bytes only, no interception, no mTLS, no signing; egress policy still applies. `closed` reports the tunnel once it ends. */
function passBytes(socket: Duplex, head: Buffer, host: string, port: number, allowPrivate: boolean, o: ConnectOptions, closed: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const egress = { allowPrivate, setting: 'interception.passThrough[].allowPrivate', ...(o.onEgressRefusal ? { onRefusal: o.onEgressRefusal } : {}) }
    const denied = isIP(host) !== 0 ? checkLiteral(host, host, egress) : undefined
    if (denied) return reject(new GatewayError('egress_denied', `pass-through ${host}:${port}: ${denied.message}`))
    const upstream = netConnect({ host, port, lookup: createEgressLookup(egress) })
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'ERR_GATEWAY_EGRESS_DENIED' ? 'egress_denied' : 'upstream_connect_failed'
      reject(new GatewayError(reason, `pass-through ${host}:${port}: ${err.code === 'ERR_GATEWAY_EGRESS_DENIED' ? err.message : (err.code ?? 'connect failed')}`))
    })
    upstream.once('connect', () => {
      upstream.removeAllListeners('error')
      if (socket.destroyed) {
        // The caller left while the gateway dialled: nobody to answer, nothing to hold open.
        upstream.destroy()
        return reject(callerAborted())
      }
      o.onTunnel?.('pass_through')
      socket.once('close', closed)
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.on('error', () => socket.destroy())
      socket.on('close', () => upstream.destroy())
      upstream.on('close', () => socket.destroy())
      socket.pipe(upstream).pipe(socket)
      idleLimit(socket, upstream, o)
      resolve()
    })
  })
}

/** Drain closes a pass-through tunnel quiet this long: it cannot tell a request in progress otherwise. */
const QUIET_MS = 2000

/** No byte either way for tunnelIdle closes the tunnel; drain closes it once quiet. */
function idleLimit(socket: Duplex, upstream: Socket, o: ConnectOptions): void {
  let last = Date.now()
  const touch = (): void => void (last = Date.now())
  socket.on('data', touch)
  upstream.on('data', touch)
  o.track(socket, () => Date.now() - last >= QUIET_MS)
  if (o.limits.tunnelIdleMs <= 0) return
  upstream.setTimeout(o.limits.tunnelIdleMs, () => {
    // The upstream socket's timer counts bytes both ways (reads and writes refresh it).
    o.onTimeout('tunnel_idle')
    upstream.destroy()
    socket.destroy()
  })
}
