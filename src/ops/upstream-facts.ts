/**
 * Which upstream connection carried a request: address, TLS version, reused or new, TLS
 * handshake time. The pipeline never sees the socket (undici owns the pool), so this
 * listens on undici's diagnostics channels: `connected` names a new connection, and
 * `sendHeaders` a request going out on one, published in the same synchronous run as the
 * request's onRequestStart, where the proxy hands over that request's facts object
 * (writingFacts). Nothing is matched by the X-Request-Id, which a caller may repeat.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { ConnectInfo } from '../gateway/index.js'
import type { RequestFacts, UpstreamFacts } from '../proxy/pipeline.js'
import { writingFacts } from '../proxy/writing-call.js'

export type { UpstreamFacts }

interface SocketFacts {
  endpoint: string
  requests: number
  /** What every request on this connection reports, made once: its first request, then the rest. */
  readonly first: Readonly<UpstreamFacts>
  readonly reused: Readonly<UpstreamFacts>
}

/** Metric callbacks and bounds of the upstream observer. */
export interface UpstreamObserverOptions {
  /** A new connection was opened (for metrics). */
  onConnection?: (info: ConnectInfo) => void
  /** A request went over an open connection (for metrics). */
  onReuse?: (endpoint: string) => void
}

/** Correlates requests with connections; onConnect goes into CompileOptions. */
export interface UpstreamObserver {
  onConnect(info: ConnectInfo): void
  /** The upstream facts of a request (its facts object's `upstream`): the access log takes them when it is done (shared, read-only). */
  take(request: RequestFacts): Readonly<UpstreamFacts> | undefined
  close(): void
}

/** Subscribes to undici's client channels until close(). */
export function observeUpstream(o: UpstreamObserverOptions = {}): UpstreamObserver {
  const sockets = new WeakMap<object, SocketFacts>()
  // onConnect runs inside the connector callback and undici publishes `connected` in the same
  // synchronous call, so the last successful ConnectInfo belongs to the next connected socket.
  let last: ConnectInfo | undefined
  const onConnected = (message: unknown): void => {
    const info = last
    last = undefined
    const socket = (message as { socket?: { remoteAddress?: string } }).socket
    if (!info || !socket) return
    // Built by assignment, not spread: the access line reads these on every request.
    const facts = (reused: boolean): Readonly<UpstreamFacts> => {
      // Keys in the order the access line and spans have always had.
      const f = {} as UpstreamFacts
      if (info.remoteAddress) f.address = info.remoteAddress
      if (info.protocol) f.tlsVersion = info.protocol
      f.reused = reused
      f.resumed = info.resumed
      f.handshakeMs = info.handshakeMs
      return Object.freeze(f)
    }
    sockets.set(socket, { endpoint: info.endpoint, requests: 0, first: facts(false), reused: facts(true) })
  }
  const onSendHeaders = (message: unknown): void => {
    const { request: undiciRequest, socket } = message as { request?: object; socket?: object }
    // Read on every message, ours or not: that is what ties the facts to this one request.
    const request = undiciRequest ? writingFacts(undiciRequest) : undefined
    const facts = socket ? sockets.get(socket) : undefined
    if (!facts) return
    const reused = facts.requests > 0
    facts.requests++
    if (reused) o.onReuse?.(facts.endpoint)
    // The connection's own frozen facts: nothing is built per request.
    // Carried by the request's own facts object (a WeakMap entry per request cost a hash and an insert).
    if (request) request.upstream = reused ? facts.reused : facts.first
  }
  subscribe('undici:client:connected', onConnected)
  subscribe('undici:client:sendHeaders', onSendHeaders)
  return {
    onConnect(info) {
      last = info.error === undefined ? info : undefined
      if (info.error === undefined) o.onConnection?.(info)
      // Never pair it with a later, unrelated connection (undici skips `connected` for a destroyed client).
      queueMicrotask(() => {
        if (last === info) last = undefined
      })
    },
    take(request) {
      return request.upstream
    },
    close() {
      unsubscribe('undici:client:connected', onConnected)
      unsubscribe('undici:client:sendHeaders', onSendHeaders)
    },
  }
}
