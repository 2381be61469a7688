/**
 * CONNECT (HTTPS_PROXY): only configured hosts are accepted. The caller is authenticated
 * once per tunnel, its TLS is terminated with a leaf minted for the host by the
 * interception CA, and every inner request goes through the same pipeline as the plain
 * forward proxy. Hosts on the pass-through list are tunnelled as bytes, untouched
 * (pass-through.ts). Access lines: a refused CONNECT is one when refused; a pass-through
 * tunnel is one when it closes (its life, its bytes); an intercepted tunnel's lines are its
 * inner requests', or one when the caller's TLS handshake fails, times out or is abandoned
 * (caller-handshake.ts: there is no inner request then).
 */
import type { Socket } from 'node:net'
import type { IncomingMessage, Server } from 'node:http'
import { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import { GatewayError, statusOf } from '../errors.js'
import { authFailureLabel } from '../callers/index.js'
import { checkWayIn, type EgressReason, type Gateway } from '../gateway/index.js'
import { authorizeCallerForAny, credentialFromHeaders, type AdmitOptions } from './steps/authenticate-caller.js'
import type { Caller, CallerCertificate, RequestFacts } from './pipeline.js'
import { interceptionUnavailable, type InterceptionCa, type Minter } from '../tls/index.js'
import type { RequestRecord } from './request-record.js'
import { writeRawError } from './write-error.js'
import { checkRequestHead } from './client-error.js'
import { callerCertificate, recordCallerConnection } from './caller-connection.js'
import type { TimeoutReason } from './connection-guard.js'
import type { Tracing, TunnelTrace } from '../tracing/index.js'
import { endTrace } from './end-trace.js'
import { passThrough, passThroughEntry } from './pass-through.js'
import { judgePassThrough } from './pass-through-judge.js'
import { handshakeRecord, watchCallerHandshake } from './caller-handshake.js'
import { newRequestId } from './request-id.js'
import { refuseUntrusted } from './untrusted-connection.js'
import { admitConnect } from './admit-connect.js'
import { connectAbandoned, inConnectTurn } from './connect-turn.js'
import { isClosingAhead, isEndedAhead } from './pipelined.js'
import { parseConnectTarget } from './request-target.js'
import { ipv4SpellingNote, targetAsSent } from './target-spelling.js'
import { callerAddress } from './caller-address.js'

/** What an intercepted tunnel carries to its inner requests; its authority and the CA that signed its leaf are what a reload may outdate (outdated-tunnel.ts). */
export interface Tunnel {
  readonly authority: string
  readonly ca: InterceptionCa
  /** The CONNECT's connection to the listener: the caller trust in force judges each inner request by it (untrusted-connection.ts). */
  readonly connection: Duplex
  readonly caller?: Caller
  /** The bearer the CONNECT carried: each inner request re-checks it (expiry, revocation). */
  readonly token?: string
  /** The CONNECT connection's client certificate (the inner TLS has none), read again under the listener's trust in force at each inner request; `certificate`: the same, when it identified the caller (no bearer), judged against each inner request's snapshot's apps. */
  readonly peer: () => CallerCertificate | undefined
  readonly certificate?: () => CallerCertificate
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
  /** A refused CONNECT, a pass-through tunnel once closed, an intercepted tunnel whose handshake failed: one access line and one requests_total sample each. */
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

/** How a CONNECT reports itself once it is more than a refusal (one access line each). */
interface TunnelReports {
  /** A pass-through tunnel's line, when it closes: how long it lived and what it carried. */
  passThroughClosed(authority: string, error?: GatewayError): void
  /** An intercepted tunnel whose caller never completed its TLS handshake (`span`: the tunnel's). */
  handshakeFailed(error: GatewayError, span?: TunnelTrace): void
}

/** The listener's 'connect' event handler. */
export function createConnectHandler(o: ConnectOptions) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const started = performance.now()
    const facts: RequestFacts = {}
    // Asked now, while the connection is open (net keeps the answer): a tunnel's record is made after it closes.
    const clientAddress = callerAddress(socket as Socket)
    socket.on('error', () => socket.destroy())
    const record = (status: number, error?: GatewayError): RequestRecord => {
      const r: RequestRecord = { id: newRequestId(), mode: 'connect', method: 'CONNECT', status, durationMs: performance.now() - started, facts }
      if (error) r.error = error
      if (clientAddress !== undefined) r.clientAddress = clientAddress
      // A refused or pass-through CONNECT has no tunnel span: its own server span, so its access line has a trace id too.
      if (o.tracing && !facts.trace) endTrace((facts.trace = o.tracing.request(req.headers, undefined, { startTime: performance.timeOrigin + started })), r)
      return r
    }
    const reports: TunnelReports = {
      passThroughClosed(authority, error) {
        // A tunnel closed because it was judged again and refused says why (it was open: 200); one a reload's caller trust refuses too.
        const r = record(200, error ?? refuseUntrusted(socket, 'listen.tls', o.admit.onAuthFailure))
        r.passThrough = authority
        recordCallerConnection(socket as Socket, r)
        o.onDone?.(r)
      },
      handshakeFailed: (e, span) => o.onDone?.(handshakeRecord(e, { mode: 'connect', method: 'CONNECT', startedMs: started, facts, connection: socket as Socket, ...(span ? { span } : {}) })),
    }
    // Answered in its turn, after the requests pipelined before it (pipelined.ts).
    void inConnectTurn(socket, req.url ?? '', () => handleConnect(o, req, socket, head, facts, reports)).catch((err: unknown) => {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'internal error', { cause: err })
      const label = authFailureLabel(e)
      if (label) o.admit.onAuthFailure?.(label)
      // A caller that left before the answer was not refused, and has nobody to read one (499 is never sent); one behind a refused request gets nothing written (the answers before it go out, then the connection closes),
      // nor does one behind a request the gateway ended (a drain's end, a limit): not judged, so not refused either.
      if (e.reason === 'caller_aborted') socket.destroy()
      else if (!isEndedAhead(socket, e)) (o.onTunnel?.('refused'), isClosingAhead(socket, e) || writeRawError(socket, e, 'proxy'))
      // The cause of a 500 reaches the log through the access line (its stack), never the caller.
      o.onDone?.(record(statusOf(e.reason, 'proxy'), e))
    })
  }
}

async function handleConnect(o: ConnectOptions, req: IncomingMessage, socket: Duplex, head: Buffer, facts: RequestFacts, reports: TunnelReports): Promise<void> {
  const gateway = o.current()
  checkRequestHead(req)
  checkWayIn(gateway, 'connect')
  const target = parseConnectTarget(req.url ?? '')
  if (!target) throw new GatewayError('bad_request', 'CONNECT needs host:port')
  const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
  const interception = gateway.config.interception
  const endpoints = gateway.byHost.get(authority) ?? []
  const passThroughTo = passThroughEntry(interception, target)
  if (endpoints.length === 0 && !passThroughTo) throw new GatewayError('endpoint_not_configured', `CONNECT to ${targetAsSent(authority, req.url ?? '')} refused: host is not configured on this gateway${ipv4SpellingNote(target.host)}`)
  // Proxy-Authorization only; without it, a client certificate the listener verified identifies the app.
  const credential = credentialFromHeaders(req, false)
  const certificate = credential === undefined ? callerCertificate(socket) : undefined
  const caller = await admitConnect(o, gateway, socket, credential, certificate)
  if (caller) facts.caller = caller.appId
  // An app that may use none of the host's endpoints is refused here, not on each inner request.
  if (caller && endpoints.length > 0) authorizeCallerForAny(caller, endpoints, gateway.callers)
  if (endpoints.length === 0 && passThroughTo) {
    // Judged again itself (no inner requests to judge) at a reload and after: pass-through-judge.ts.
    const judge = judgePassThrough(o, socket, target, authority, credential)
    return passThrough(socket, head, authority, passThroughTo, o, (error) => reports.passThroughClosed(authority, error), { opened: gateway, current: o.current, judge })
  }
  return intercept(o, req, socket, head, { gateway, ...target, authority, ...(caller ? { caller } : {}), ...(caller && credential && 'token' in credential ? { token: credential.token } : {}), ...(caller && certificate ? { certificate } : {}), again: () => handleConnect(o, req, socket, head, facts, reports) }, reports)
}

/** A CONNECT accepted for interception: what its tunnel is made of. */
interface Interception {
  gateway: Gateway
  host: string; port: number; authority: string
  caller?: Caller; token?: string; certificate?: CallerCertificate
  /** The CONNECT decided again under the snapshot in force (a reload came while it was admitted or its leaf minted). */
  again(): Promise<void>
}

/** Answers 200 once the host's leaf is at hand, terminates the caller's TLS and hands the tunnel to the inner server. */
async function intercept(o: ConnectOptions, req: IncomingMessage, socket: Duplex, head: Buffer, a: Interception, reports: TunnelReports): Promise<void> {
  const { gateway, authority } = a
  if (!gateway.config.interception || !gateway.interception) throw new GatewayError('endpoint_not_configured', `CONNECT to ${authority} refused: TLS interception is not configured (interception.caCert)`)
  const unavailable = interceptionUnavailable(gateway.interception, authority)
  if (unavailable) throw unavailable
  const minter = await o.minter(gateway)
  if (!minter) throw new TypeError('a snapshot with an interception CA has no minter')
  // The CONNECT host's leaf, the only one this tunnel presents, whatever SNI the ClientHello names (RFC 6066 §3
  // lets a server go on with its own): a leaf for another configured host would vouch for a name this tunnel cannot serve.
  const leaf = await minter.contextFor(a.host)
  // A reload came meanwhile: its pass over open tunnels missed this one; answered as a CONNECT arriving now is. A caller
  // that left meanwhile (its FIN was read, and no TLS socket hears it again) is a 499 now, not a 200 and a handshake timeout.
  if (o.current() !== gateway) return a.again()
  if (socket.destroyed || socket.readableEnded) throw connectAbandoned(req.url ?? '')
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
  if (head.length > 0) socket.unshift(head)
  const tls = new TLSSocket(socket as Socket, { isServer: true, secureContext: leaf, ALPNProtocols: ['http/1.1'] })
  tls.on('error', () => tls.destroy())
  const trace = o.tracing?.tunnel(req.headers, a.host, a.port)
  let failed: GatewayError | undefined // the caller's handshake failure, for the tunnel span's status
  const onFailed = (e: GatewayError): void => void (failed = e, reports.handshakeFailed(e, trace))
  watchCallerHandshake(tls, { site: { name: `CONNECT ${authority}`, kind: 'tunnel' }, limitMs: o.limits.tlsHandshakeMs, onTimeout: () => o.onTimeout('tls_handshake'), onFailed })
  if (trace) tls.once('close', () => trace.end(failed && { type: failed.reason, message: failed.message }))
  tunnels.set(tls, { authority, ca: gateway.interception, connection: socket, peer: () => callerCertificate(socket), ...(a.caller ? { caller: a.caller } : {}), ...(a.token !== undefined ? { token: a.token } : {}), ...(a.certificate ? { certificate: () => callerCertificate(socket) ?? { authorized: false, sans: [] } } : {}), ...(trace ? { trace } : {}) })
  o.onTunnel?.('intercepted')
  o.inner.emit('connection', tls)
}
