/**
 * A byte relay in front of a real redis-server that keeps what its clients sent, to count the
 * commands a store sent (ioredis sends command names in lower case and arguments as given):
 * while the server is paused (SIGSTOP) the relay still takes each command, so a count says how
 * many a request waited on, without timing anything.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface RedisCommandRelay {
  /** Where the store connects (127.0.0.1). */
  readonly port: number
  /** How many times `text` appeared, as one RESP bulk string (`$<n>\r\n<text>…`), in what the clients sent so far: `startsWith` matches a key by its prefix. */
  count(text: string, match?: 'exact' | 'startsWith'): number
  close(): Promise<void>
}

/** Starts a relay to 127.0.0.1:`redisPort` on a free port. */
export async function startRedisCommandRelay(redisPort: number): Promise<RedisCommandRelay> {
  let sent = ''
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => (client.destroy(), upstream.destroy()))
    }
    client.on('data', (chunk: Buffer) => {
      sent += chunk.toString('latin1')
      upstream.write(chunk)
    })
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    port,
    // A bulk string's text follows its `$<length>\r\n` and ends with `\r\n`.
    count: (text, match = 'exact') => sent.split(match === 'exact' ? `\r\n${text}\r\n` : `\r\n${text}`).length - 1,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
