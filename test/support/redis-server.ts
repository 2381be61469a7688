/**
 * A private redis-server on a free 127.0.0.1 port, for tests that must take Redis down (the
 * shared one at MTLS_GATEWAY_TEST_REDIS is never stopped). No persistence; stop() ends it.
 */
import { startPeer, type Peer } from './peers.js'

/** Starts redis-server (Debian's) on a free port; `url` is its redis:// address. */
export async function startRedisServer(): Promise<Peer & { url: string }> {
  const peer = await startPeer({
    name: 'redis',
    command: 'redis-server',
    setup: (dir, port) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    readyLine: /Ready to accept connections/,
  })
  return Object.assign(peer, { url: `redis://127.0.0.1:${peer.port}` })
}
