/**
 * Bytes a request moved on the caller's connection: the socket's counters since the previous
 * request on it ended. HTTP/1.1 answers a connection's requests one after another, so the
 * difference is this request's, headers included (a pipelined next request may add its head).
 */
import type { Socket } from 'node:net'

/** The counters where the previous request on a connection ended. */
interface Mark {
  read: number
  written: number
}

const marks = new WeakMap<Socket, Mark>()

/** Sets this request's bytes in and out on `into`; call once, when its response is done. */
export function relayedBytes(socket: Socket, into: { requestBytes?: number; responseBytes?: number }): void {
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
