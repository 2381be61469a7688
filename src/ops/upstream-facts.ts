/**
 * Which upstream connection carried a request: address, TLS version, reused or new, TLS
 * handshake time. The pipeline never sees the socket (undici owns the pool), so this
 * listens on undici's diagnostics channels and matches a request by the X-Request-Id the
 * listener always sets on the outbound request.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { ConnectInfo } from '../gateway/index.js'

/** What the access log says about the upstream side of one request. */
export interface UpstreamFacts {
  address?: string
  tlsVersion?: string
  /** The request went over an already open keep-alive connection. */
  reused: boolean
  /** The connection's TLS session was resumed. */
  resumed: boolean
  /** Connect + TLS handshake of the connection (also on reuse: the connection's own cost). */
  handshakeMs?: number
}

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
  /** Facts kept for requests whose record has not arrived yet (default 10 000). */
  maxPending?: number
}

/** Correlates requests with connections; onConnect goes into CompileOptions. */
export interface UpstreamObserver {
  onConnect(info: ConnectInfo): void
  /** The facts of a request, once: the access log takes them when the request is done (shared, read-only). */
  take(requestId: string): Readonly<UpstreamFacts> | undefined
  close(): void
}

const REQUEST_ID = /\r\nx-request-id: ([^\r\n]+)/i
const ID_LINE = '\r\nx-request-id: '

/** The X-Request-Id of undici's header block: the listener writes it lowercase, so indexOf finds it without a regex scan. */
function requestIdOf(headers: string): string | undefined {
  const at = headers.indexOf(ID_LINE)
  if (at === -1) return REQUEST_ID.exec(headers)?.[1]
  const start = at + ID_LINE.length
  const end = headers.indexOf('\r\n', start)
  return headers.slice(start, end === -1 ? undefined : end)
}

/** Subscribes to undici's client channels until close(). */
export function observeUpstream(o: UpstreamObserverOptions = {}): UpstreamObserver {
  const maxPending = o.maxPending ?? 10_000
  const sockets = new WeakMap<object, SocketFacts>()
  const pending = new Map<string, Readonly<UpstreamFacts>>()
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
    const { headers, socket } = message as { headers?: unknown; socket?: object }
    const facts = socket ? sockets.get(socket) : undefined
    if (!facts || typeof headers !== 'string') return
    const reused = facts.requests > 0
    facts.requests++
    if (reused) o.onReuse?.(facts.endpoint)
    const id = requestIdOf(headers)
    if (id === undefined) return
    // Requests of another in-process gateway land here too; the bound forgets them.
    if (pending.size >= maxPending) pending.delete(pending.keys().next().value as string)
    // The connection's own frozen facts: nothing is built per request.
    pending.set(id, reused ? facts.reused : facts.first)
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
    take(requestId) {
      const facts = pending.get(requestId)
      if (facts) pending.delete(requestId)
      return facts
    },
    close() {
      unsubscribe('undici:client:connected', onConnected)
      unsubscribe('undici:client:sendHeaders', onSendHeaders)
      pending.clear()
    },
  }
}
