import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/** Raw TCP peers on 127.0.0.1 that read a request head (up to its blank line) and then act: a connector (`via`) as a test plays it. */
export interface HeadPeers {
  /** The peers' connections still open (the gateway's sockets to them). */
  readonly open: ReadonlySet<Socket>
  /** Listens with `server` on a free port, closed by close(); resolves with the port. */
  listen(server: Server): Promise<number>
  /** A server that calls `onHead` once a connection's head has arrived. */
  peer(onHead: (socket: Socket, head: string) => void): Server
  /** Destroys the open connections and closes every server. */
  close(): Promise<void>
}

export function headPeers(): HeadPeers {
  const servers: Server[] = []
  const open = new Set<Socket>()
  return {
    open,
    async listen(server) {
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as AddressInfo).port
    },
    peer(onHead) {
      return createServer((s) => {
        open.add(s)
        s.on('error', () => undefined).on('close', () => open.delete(s))
        let head = ''
        const read = (c: Buffer): void => {
          head += c.toString('latin1')
          if (!head.includes('\r\n\r\n')) return
          s.off('data', read)
          onHead(s, head)
        }
        s.on('data', read)
      })
    },
    async close() {
      for (const s of open) s.destroy()
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
    },
  }
}
