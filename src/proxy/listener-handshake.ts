/**
 * The caller's TLS handshake with the listener itself (`listen.tls`). One that fails (the
 * caller's alert, plain HTTP, a client certificate clientCa does not verify), stalls past
 * listen.timeouts.tlsHandshake or is abandoned is one access line and one requests_total sample,
 * worded and built as an intercepted tunnel's are (caller-handshake.ts), each worker for its own
 * connections. A connection on which the caller sent no byte is not a request: a load
 * balancer's TCP check or a port scan (connect, close) leaves no line, and a silent one that the
 * limit closes only its client_timeouts_total count, as silence does on a plain-HTTP listener.
 * So a flood of empty connections writes nothing, and one of junk a line per connection, held
 * like every line to the log's buffer (beyond it dropped and counted).
 */
import type { Socket } from 'node:net'
import type { Server as TlsServer, TLSSocket } from 'node:tls'
import type { GatewayError } from '../errors.js'
import type { Tracing } from '../tracing/index.js'
import type { RequestRecord } from './request-record.js'
import { endTrace } from './end-trace.js'
import { callerHandshakeError, handshakeFailedError, handshakeRecord, type HandshakeSite } from './caller-handshake.js'
import { callerAddress } from './caller-address.js'

export interface ListenerHandshakeOptions {
  /** listen.timeouts.tlsHandshake in ms (Node's handshakeTimeout); 0: unbounded. */
  limitMs: number
  /** The limit closed a connection (client_timeouts_total{reason="tls_handshake"}), bytes or none. */
  onTimeout(): void
  onDone?: (record: RequestRecord) => void
  /** Gives each reported handshake a server span of its own (a new trace: no request to read a context from), whose ids its line carries. */
  tracing?: Tracing
}

const LISTENER: HandshakeSite = { name: 'listen.tls', kind: 'listener' }

/** The TCP connection under a server-side TLS socket (Node keeps it as `_parent`). */
const tcpOf = (tls: TLSSocket): Socket | undefined => (tls as TLSSocket & { _parent?: Socket | null })._parent ?? undefined

/** Reports every handshake on `server` that ends without a secure connection. */
export function reportListenerHandshakes(server: TlsServer, o: ListenerHandshakeOptions): void {
  const onDone = o.onDone && traced(o.onDone, o.tracing)
  // When each connection was accepted (its record's duration); per connection, not per request.
  const accepted = new WeakMap<Socket, number>()
  if (onDone) {
    server.on('connection', (tcp: Socket) => {
      accepted.set(tcp, performance.now())
      // Asked now: net keeps the answer, and a connection reset before its record is made has none to give.
      void callerAddress(tcp)
    })
  }
  // First, before node:https hands the error on as a 'clientError': this is the one report of
  // it, and the connection, closed here, is not answered as a malformed HTTP request.
  server.prependListener('tlsClientError', (err: NodeJS.ErrnoException, tls: TLSSocket) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') o.onTimeout()
    if (onDone) report(err, tls, o.limitMs, onDone, accepted)
    tls.destroy()
  })
}

function report(err: NodeJS.ErrnoException, tls: TLSSocket, limitMs: number, onDone: (record: RequestRecord) => void, accepted: WeakMap<Socket, number>): void {
  const tcp = tcpOf(tls)
  // Also a connection refused by a cap (per address) on accept: nothing was read from it.
  // Without the TCP socket (a future Node) every failure is reported rather than none.
  if (tcp !== undefined && tcp.bytesRead === 0) return
  const error = refusedCertificate(tls) ?? callerHandshakeError(err, LISTENER, limitMs)
  onDone(handshakeRecord(error, { mode: 'other', method: '-', startedMs: (tcp && accepted.get(tcp)) ?? performance.now(), facts: {}, ...(tcp ? { connection: tcp } : {}) }))
}

/** `onDone`, after giving the record its own span when tracing is on. */
function traced(onDone: (record: RequestRecord) => void, tracing: Tracing | undefined): (record: RequestRecord) => void {
  return tracing ? (r) => (endTrace((r.facts.trace = tracing.request({})), r), onDone(r)) : onDone
}

/**
 * A client certificate clientCa does not verify (requireClientCert): OpenSSL completes the
 * handshake and Node then closes the connection, reporting only a hang-up; its verify code (an
 * OpenSSL X509 name, never the certificate's text) says why.
 */
function refusedCertificate(tls: TLSSocket): GatewayError | undefined {
  const code: unknown = tls.authorizationError
  if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code)) return undefined
  return handshakeFailedError(LISTENER, `the caller's certificate does not verify against listen.tls.clientCa (${code})`)
}
