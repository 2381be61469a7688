/**
 * Per-endpoint upstream: an undici Agent whose connector dials with that endpoint's
 * SecureContext. The TLS session cache lives in the connector, so a resumed session can
 * never carry one bundle's identity to another endpoint's (or tenant bundle's) call.
 */
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls'
import { isIP, type LookupFunction } from 'node:net'
import { Agent, type Dispatcher } from 'undici'
import type { buildConnector } from 'undici'
import { makeServerIdentityCheck } from '../tls/index.js'

export interface UpstreamOptions {
  endpoint: string
  context: SecureContext
  serverName?: string
  resolve?: string
  pins: readonly string[]
  connectMs: number
  responseMs: number
  idleMs: number
  keepAliveMs: number
  connections: number
  /** Dial-time address policy and DNS (egress checks run on the address actually dialled). */
  lookup?: LookupFunction
  /** Observes each new connection (metrics, logs). */
  onConnect?: (info: ConnectInfo) => void
}

export interface ConnectInfo {
  endpoint: string
  handshakeMs: number
  resumed: boolean
  protocol: string | null
  remoteAddress: string | undefined
  error?: unknown
}

export interface Upstream {
  readonly dispatcher: Dispatcher
  close(): Promise<void>
}

const MAX_SESSIONS = 100

/** Builds the endpoint's connector: SNI/name checks, pins, pinned address, session cache, timeout. */
export function createConnector(o: UpstreamOptions): buildConnector.connector {
  const sessions = new Map<string, Buffer>()
  return (opts, callback) => {
    const hostname = opts.hostname.replace(/^\[|\]$/g, '')
    const name = o.serverName ?? hostname
    const port = Number(opts.port) || 443
    const cacheKey = `${name}:${port}`
    const identityCheck = makeServerIdentityCheck(o.pins)
    const started = performance.now()
    const session = sessions.get(cacheKey)
    const socket: TLSSocket = tlsConnect({
      host: o.resolve ?? hostname,
      port,
      ...(isIP(name) === 0 ? { servername: name } : {}),
      secureContext: o.context,
      checkServerIdentity: (_host, cert) => identityCheck(name, cert),
      ALPNProtocols: ['http/1.1'],
      ...(session ? { session } : {}),
      ...(o.lookup ? { lookup: o.lookup } : {}),
    })
    socket.setNoDelay(true)
    socket.on('session', (s: Buffer) => {
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string)
      sessions.set(cacheKey, s)
    })
    let done = false
    const finish = (err: Error | null): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.off('error', onError)
      o.onConnect?.({
        endpoint: o.endpoint,
        handshakeMs: performance.now() - started,
        resumed: err === null && socket.isSessionReused(),
        protocol: err === null ? socket.getProtocol() : null,
        remoteAddress: socket.remoteAddress,
        ...(err ? { error: err } : {}),
      })
      if (err) {
        sessions.delete(cacheKey)
        socket.destroy()
        callback(err, null)
      } else {
        // TLS 1.3: a server refusing the client certificate sends its alert after our
        // Finished, i.e. once the request is in flight. Node emits the alert as 'error' and
        // then 'end'; undici turns the 'end' into "other side closed", overwriting the
        // alert. Destroying on the alert keeps it as the error the request fails with.
        socket.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code?.startsWith('ERR_SSL_')) socket.destroy()
        })
        callback(null, socket)
      }
    }
    const onError = (err: Error): void => finish(err)
    const timer = setTimeout(() => {
      finish(Object.assign(new Error(`connect timeout after ${o.connectMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }))
    }, o.connectMs)
    socket.once('secureConnect', () => finish(null))
    socket.on('error', onError)
  }
}

/** The endpoint's connection pool (one per origin inside the Agent, keep-alive). */
export function createUpstream(o: UpstreamOptions): Upstream {
  const agent = new Agent({
    connect: createConnector(o),
    connections: o.connections,
    keepAliveTimeout: o.keepAliveMs,
    keepAliveMaxTimeout: Math.max(o.keepAliveMs, 1000),
    headersTimeout: o.responseMs,
    bodyTimeout: o.idleMs,
    pipelining: 1,
  })
  return {
    dispatcher: agent,
    close: () => agent.close(),
  }
}
