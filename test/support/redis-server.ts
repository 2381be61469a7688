/**
 * A private redis-server on a free 127.0.0.1 port, for tests that must take Redis down (the
 * shared one at MTLS_GATEWAY_TEST_REDIS is never stopped). No persistence; stop() ends it.
 */
import { afterAll, beforeAll } from 'vitest'
import { startPeer, type Peer } from './peers.js'
import { sendSignal } from './signals.js'

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

/** A suite's own redis-server, which its tests pause (SIGSTOP): the store stops answering, its connections stay open. */
export interface PausableRedis {
  readonly server: Peer & { url: string }
  /** Runs `fn` with the server paused, and resumes it whatever `fn` does. */
  whilePaused<T>(fn: () => Promise<T>): Promise<T>
}

/** Starts a redis-server before the suite and stops it after (resumed first if a test left it paused). */
export function usePausableRedis(): PausableRedis {
  let server: (Peer & { url: string }) | undefined
  let paused = false
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    if (paused && server) sendSignal(server.pid, 'SIGCONT')
    await server?.stop()
  })
  return {
    get server() {
      if (!server) throw new Error('the redis-server did not start')
      return server
    },
    async whilePaused(fn) {
      const pid = this.server.pid
      sendSignal(pid, 'SIGSTOP')
      paused = true
      try {
        return await fn()
      } finally {
        sendSignal(pid, 'SIGCONT')
        paused = false
      }
    },
  }
}
