/**
 * One HTTP/1.1 request and its answer on a connection the test keeps open (kept-alive, a
 * tunnel), read by its Content-Length: the next request can follow on the same connection.
 */
import type { TLSSocket } from 'node:tls'

/** One HTTP/1.1 answer: status, head (lower-cased) and body (Content-Length framed). */
export interface Answer {
  status: number
  head: string
  body: string
}

/** Writes `request` on `s` and reads one answer. */
export function exchange(s: TLSSocket, request: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk])
      const text = got.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = text.slice(0, end).toLowerCase()
      const length = Number(/\r\ncontent-length: *(\d+)/.exec(head)?.[1] ?? 0)
      if (got.length < end + 4 + length) return
      s.off('data', onData).off('close', onClose)
      resolve({ status: Number(text.slice(9, 12)), head, body: got.subarray(end + 4, end + 4 + length).toString() })
    }
    const onClose = (): void => reject(new Error(`connection closed before an answer (${got.length} bytes)`))
    s.on('data', onData)
    s.once('close', onClose)
    s.once('error', reject)
    s.write(request)
  })
}
