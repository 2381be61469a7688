import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { countConnections, upstreamConnections } from '../../bench/upstream-sockets.js'

// Two lines in /proc/net/tcp's layout: one established to :01BB (443), one listening.
const TABLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:9C40 0100007F:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 20 4 30 10 -1',
  '   1: 0100007F:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0',
  '   2: 0100007F:9C41 0100007F:01BB 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000',
  '   3: 0100007F:9C42 0100007F:01BC 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1',
].join('\n')

describe('countConnections (a /proc/net/tcp table)', () => {
  it('counts only established sockets of the process to the port', () => {
    expect(countConnections([TABLE], new Set(['1111', '2222', '3333']), 443)).toBe(1)
    expect(countConnections([TABLE], new Set(['2222', '3333']), 443)).toBe(0) // not ours
    expect(countConnections([TABLE], new Set(['3333']), 444)).toBe(1)
    expect(countConnections([TABLE, TABLE], new Set(['1111']), 443)).toBe(2) // tcp and tcp6 both read
    expect(countConnections([''], new Set(['1111']), 443)).toBe(0)
  })
})

describe('upstreamConnections (this process, real sockets)', () => {
  const open: Socket[] = []
  const server = createServer((s) => s.on('error', () => {}))
  afterEach(async () => {
    for (const s of open) s.destroy()
    open.length = 0
    if (server.listening) await new Promise((r) => server.close(r))
  })

  it('follows connections as they open and close', async () => {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    expect(upstreamConnections(process.pid, port)).toBe(0)
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1')
      open.push(s)
      await once(s, 'connect')
    }
    expect(upstreamConnections(process.pid, port)).toBe(3)
    const first = open.shift() as Socket
    first.destroy()
    await once(first, 'close')
    // 2, not 4: the accepted ends are this process's sockets too, but their remote port is the client's.
    expect(upstreamConnections(process.pid, port)).toBe(2)
  })
})
