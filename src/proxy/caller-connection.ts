/**
 * What a request's record says about the caller's connection: the client's address, and the
 * bytes the request moved on it (the socket's counters since the previous request on it ended;
 * HTTP/1.1 answers a connection's requests one after another, so the difference is this
 * request's, headers included; a pipelined next request may add its head), and the client
 * certificate a CONNECT's connection carries.
 */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { peerIdentity } from '../tls/index.js'
import type { IncomingMessage } from 'node:http'
import type { CallerCertificate } from './pipeline.js'
import type { Tunnel } from './connect.js'
import type { PeerIdentity } from '../tls/index.js'
import { callerAddress } from './caller-address.js'

/** The counters where the previous request on a connection ended. */
interface Mark {
  read: number
  written: number
}

const marks = new WeakMap<Socket, Mark>()

/** The record's connection fields. */
export interface CallerConnectionFields {
  clientAddress?: string
  requestBytes?: number
  responseBytes?: number
}

/**
 * Sets the client's address and this request's bytes in and out on `into`; call once, when its
 * response is done. The address is the TCP peer's (net caches it from the first read, so a
 * socket already closed still answers when the gateway read it before, as every request does).
 * `counted` false (a pipelined request let go unserved, with nothing written for it, whose line may
 * come before the line of the request ahead of it): no bytes, which the next record on the connection counts.
 * `address`: the caller's address already read from `socket` (callerAddress), when the request read it.
 */
export function recordCallerConnection(socket: Socket, into: CallerConnectionFields, counted = true, address = callerAddress(socket)): void {
  if (address !== undefined) into.clientAddress = address
  if (!counted) return
  const read = socket.bytesRead
  const written = socket.bytesWritten
  const mark = marks.get(socket)
  if (mark === undefined) {
    marks.set(socket, { read, written })
    into.requestBytes = read
    into.responseBytes = written
    return
  }
  // The connection's own mark, moved forward: no object per request.
  into.requestBytes = read - mark.read
  into.responseBytes = written - mark.written
  mark.read = read
  mark.written = written
}

/** The client certificate of a CONNECT on a TLS listener, as the listener's trust in force judges it. */
export function callerCertificate(socket: Duplex): CallerCertificate | undefined {
  const peer = socket instanceof TLSSocket ? peerIdentity(socket) : undefined
  if (!peer) return undefined
  return { authorized: peer.authorized, ...(peer.subjectCN !== undefined ? { subjectCN: peer.subjectCN } : {}), sans: peer.sans }
}

/**
 * The caller's verified client certificate, when the listener serves TLS. Inside a tunnel: the
 * CONNECT connection's, judged now (the inner TLS, the gateway's own, asks for none).
 */
export function requestCertificate(req: IncomingMessage, tunnel: Tunnel | undefined): CallerCertificate | undefined {
  if (tunnel) return tunnel.peer()
  const peer = peerIdentity(req.socket)
  if (!peer) return undefined
  // peerIdentity keeps one identity per connection and caller trust: its certificate facts are made once, not per request.
  let facts = certificates.get(peer)
  if (facts === undefined) {
    facts = peer.subjectCN !== undefined ? { authorized: peer.authorized, subjectCN: peer.subjectCN, sans: peer.sans } : { authorized: peer.authorized, sans: peer.sans }
    certificates.set(peer, facts)
  }
  return facts
}

/** A connection's certificate facts, by the identity peerIdentity keeps for it (readonly both). */
const certificates = new WeakMap<PeerIdentity, CallerCertificate>()
