/**
 * Bytes a request moved on the caller's connection: the socket's counters since the previous
 * request on it ended. HTTP/1.1 answers a connection's requests one after another, so the
 * difference is this request's, headers included (a pipelined next request may add its head).
 */
import type { Socket } from 'node:net'

const marks = new WeakMap<Socket, { read: number; written: number }>()

/** This request's bytes in and out; call once, when its response is done. */
export function relayedBytes(socket: Socket): { requestBytes: number; responseBytes: number } {
  const read = socket.bytesRead
  const written = socket.bytesWritten
  const before = marks.get(socket)
  marks.set(socket, { read, written })
  return { requestBytes: read - (before?.read ?? 0), responseBytes: written - (before?.written ?? 0) }
}
