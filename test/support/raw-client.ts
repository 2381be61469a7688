/**
 * Raw TCP clients for hostile-client tests: write exactly the bytes given (slowly, or not at
 * all), and collect what the gateway answered until it closed the connection.
 */
import { connect, type Socket } from 'node:net'

/** One raw connection and what came back on it. */
export interface RawClient {
  socket: Socket
  /** Everything received so far. */
  received(): Buffer
  /** Resolves when the gateway closed the connection; rejects after `deadlineMs`. */
  closed(deadlineMs: number): Promise<void>
  /** Writes `text` one byte per `everyMs` until the connection closes. */
  trickle(text: string, everyMs: number): void
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` (from `localAddress`, default 127.0.0.1) and resolves
 * once connected. `allowHalfOpen`: it goes on writing after the gateway's FIN (a caller that has
 * not read it yet), where by default it ends its side at once.
 */
export function rawClient(port: number, localAddress = '127.0.0.1', o: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: o.allowHalfOpen ?? false })
    const chunks: Buffer[] = []
    let isClosed = false
    const waiters: (() => void)[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      isClosed = true
      for (const w of waiters) w()
    })
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks),
        closed: (deadlineMs) =>
          new Promise<void>((ok, fail) => {
            if (isClosed) return ok()
            const timer = setTimeout(() => fail(new Error(`connection still open after ${deadlineMs} ms`)), deadlineMs)
            waiters.push(() => {
              clearTimeout(timer)
              ok()
            })
          }),
        trickle(text, everyMs) {
          let i = 0
          const timer = setInterval(() => {
            if (isClosed || i >= text.length) return clearInterval(timer)
            socket.write(text[i++] as string)
          }, everyMs)
          socket.once('close', () => clearInterval(timer))
        },
      }),
    )
    socket.once('error', reject)
  })
}

/** A raw HTTP/1.1 response: status, lower-case headers and body bytes. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** Parses the first response in `bytes` (no chunked decoding: gateway errors carry Content-Length). */
export function parseRawResponse(bytes: Buffer): RawResponse {
  let text = bytes.toString('latin1')
  while (text.startsWith('HTTP/1.1 100')) text = text.slice(text.indexOf('\r\n\r\n') + 4)
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const i = l.indexOf(':')
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: Buffer.from(text.slice(end + 4), 'latin1') }
}

/** Writes `text` on a new connection to 127.0.0.1:`port` and parses the answer once the gateway closes it (send `Connection: close`). */
export async function rawRoundTrip(port: number, text: string): Promise<RawResponse> {
  const client = await rawClient(port)
  client.socket.write(text)
  await new Promise<void>((resolve) => (client.socket.destroyed ? resolve() : client.socket.once('close', () => resolve())))
  return parseRawResponse(client.received())
}
