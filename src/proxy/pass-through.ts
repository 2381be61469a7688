/**
 * A pass-through CONNECT tunnel (`interception.passThrough`): bytes only, no interception, no
 * mTLS, no signing. The egress policy still applies to the dialled address; the dial is bounded
 * (`connectTimeout`) and given up when the caller leaves, so a destination that never answers
 * holds neither the caller's socket nor a connection-cap slot for the OS's two minutes of SYN
 * retries; an open tunnel is closed when idle (tunnelIdle) and on drain once quiet.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { Transform, type Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { describeDialFailure } from '../tls/index.js'
import { matchName, type InterceptionConfig } from '../config/index.js'
import { checkLiteral, createEgressLookup, type EgressReason, type Gateway } from '../gateway/index.js'
import { callerAborted } from './outcome.js'
import type { TimeoutReason } from './connection-guard.js'

/** One `interception.passThrough` entry. */
export type PassThroughTarget = InterceptionConfig['passThrough'][number]

/** The pass-through entry a CONNECT target (its host as parseConnectTarget reads it) names, matched as endpoint hosts are (matchName). */
export function passThroughEntry(interception: InterceptionConfig | undefined, target: { host: string; port: number }): PassThroughTarget | undefined {
  return interception?.passThrough.find((p) => matchName(p.host) === target.host && p.port === target.port)
}

/** What a pass-through tunnel needs from the CONNECT handler (ConnectOptions has all of it). */
export interface PassThroughOptions {
  onTunnel?: (kind: 'pass_through') => void
  onEgressRefusal?: (reason: EgressReason) => void
  limits: { tunnelIdleMs: number }
  track(socket: Duplex, isIdle: () => boolean): void
  onTimeout(reason: TimeoutReason): void
}

/** How an open tunnel is judged again: the snapshot its CONNECT was judged under, the snapshot in force now, and its CONNECT's verdict under a snapshot (the refusal, or undefined to go on). */
export interface Rejudge {
  opened: Gateway
  current: () => Gateway
  judge: (gateway: Gateway) => Promise<GatewayError | undefined>
}

/** An open tunnel is judged again at a reload (rejudgeAtReload) and at its next byte after one, and at least this often while bytes flow (a bearer expires). */
const REJUDGE_MS = 30_000

const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n'

/**
 * Dials `target`, then answers 200 and relays bytes both ways; `closed` reports the tunnel once
 * it ends. Rejects (nothing written yet) when the dial is refused, fails, times out, or the caller leaves first.
 */
export async function passThrough(socket: Duplex, head: Buffer, authority: string, target: PassThroughTarget, o: PassThroughOptions, closed: (error?: GatewayError) => void, rejudge?: Rejudge): Promise<void> {
  const upstream = await dial(socket, authority, target, o)
  o.onTunnel?.('pass_through')
  let refusal: GatewayError | undefined
  socket.once('close', () => closed(refusal))
  socket.write(ANSWER)
  if (head.length > 0) upstream.write(head)
  socket.on('close', () => upstream.destroy())
  upstream.on('close', () => socket.destroy())
  if (rejudge) {
    const refuse = (e: GatewayError): void => {
      refusal ??= e
      socket.destroy()
      upstream.destroy()
    }
    const gate = rejudgeGate(rejudge, refuse)
    socket.pipe(gate.pass()).pipe(upstream).pipe(gate.pass()).pipe(socket)
    atReload.set(socket, gate.now)
    // A reload while the CONNECT was admitted or dialled found no tunnel to judge: judged now, as that reload would have.
    gate.now()
  } else socket.pipe(upstream).pipe(socket)
  idleLimit(socket, upstream, o)
}

/** Per open pass-through tunnel (its caller's socket): judges it again under the snapshot in force now. */
const atReload = new WeakMap<object, () => void>()

/** A reload is in force: `socket`'s tunnel, if a pass-through one, is judged again now (not at its next byte) and closes when refused. */
export function rejudgeAtReload(socket: object): void {
  atReload.get(socket)?.()
}

/**
 * Gates for both directions of one tunnel: a byte passes only under a snapshot the tunnel was
 * judged under (and not longer than REJUDGE_MS ago); otherwise the tunnel is judged again first
 * and closed, that byte undelivered, when refused. `now` judges it under a new snapshot at once.
 */
function rejudgeGate({ opened, current, judge }: Rejudge, refuse: (e: GatewayError) => void): { pass: () => Transform; now: () => void } {
  let judged = opened
  let judgedAt = Date.now()
  let pending: Promise<GatewayError | undefined> | undefined
  const verdict = (): Promise<GatewayError | undefined> | undefined => {
    const g = current()
    if (pending) return pending
    if (g === judged && Date.now() - judgedAt < REJUDGE_MS) return undefined
    pending = judge(g).then((e) => {
      pending = undefined
      judged = g
      judgedAt = Date.now()
      return e
    })
    return pending
  }
  const failed = (err: unknown): void => refuse(new GatewayError('internal', 'internal error', { cause: err }))
  const now = (): void => void verdict()?.then((e) => e && refuse(e), failed)
  const pass = (): Transform =>
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const waiting = verdict()
        if (!waiting) return cb(null, chunk)
        waiting.then((e) => {
          if (!e) return cb(null, chunk)
          refuse(e)
          cb()
        }, (err: unknown) => {
          failed(err)
          cb()
        })
      },
    })
  return { pass, now }
}

/** The connected upstream socket; a GatewayError naming `authority` and the failed fact otherwise. */
function dial(socket: Duplex, authority: string, target: PassThroughTarget, o: PassThroughOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const { host, port, connectTimeoutMs } = target
    const egress = { allowPrivate: target.allowPrivate, setting: 'interception.passThrough[].allowPrivate', ...(o.onEgressRefusal ? { onRefusal: o.onEgressRefusal } : {}) }
    const denied = isIP(host) !== 0 ? checkLiteral(host, host, egress) : undefined
    if (denied) return reject(new GatewayError('egress_denied', `pass-through ${authority}: ${denied.message}`))
    // The caller left during the checks before the dial: nobody to answer, nothing to open.
    if (socket.destroyed) return reject(callerAborted())
    const upstream = netConnect({ host, port, lookup: createEgressLookup(egress) })
    const settle = (err?: GatewayError): void => {
      clearTimeout(timer)
      upstream.off('error', failed)
      socket.off('end', callerGone).off('close', callerGone)
      // From here a failing upstream ends the tunnel (an error needs a listener at every moment).
      if (!err) return void resolve(upstream.on('error', () => socket.destroy()))
      upstream.destroy()
      reject(err)
    }
    const failed = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'ERR_GATEWAY_EGRESS_DENIED') return settle(new GatewayError('egress_denied', `pass-through ${authority}: ${err.message}`))
      // The reasons endpoints' dials get (upstream_connect_refused for ECONNREFUSED, …): one set of labels for SREs.
      const failure = describeDialFailure(err.code)
      settle(new GatewayError(failure.reason, `pass-through ${authority}: ${failure.text}`))
    }
    // The caller left while the gateway dialled (Node still reads the socket it handed over, so
    // a FIN shows as 'end'; bytes sent before the 200 stay buffered for the pipe): stop dialling
    // rather than hold the slot.
    const callerGone = (): void => settle(callerAborted())
    // Like endpoints[].timeouts.connect: a 504 before any 200, the dial abandoned.
    const timer = connectTimeoutMs > 0 ? setTimeout(() => settle(new GatewayError('upstream_timeout', `pass-through ${authority}: connect timeout: no answer within ${connectTimeoutMs / 1000} s (interception.passThrough[].connectTimeout)`)), connectTimeoutMs) : undefined
    upstream.once('error', failed)
    socket.once('end', callerGone).once('close', callerGone)
    upstream.once('connect', () => settle())
  })
}

/** Drain closes a pass-through tunnel quiet this long: it cannot tell a request in progress otherwise. */
const QUIET_MS = 2000

/** No byte either way for tunnelIdle closes the tunnel; drain closes it once quiet. */
function idleLimit(socket: Duplex, upstream: Socket, o: PassThroughOptions): void {
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
