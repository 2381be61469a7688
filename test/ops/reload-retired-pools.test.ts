/**
 * A reload behaves like a fresh start for upstream connections: once the retired snapshot's last
 * in-flight request is answered, its pools close, and their idle keep-alive connections with
 * them, instead of lingering until `timeouts.keepAlive` (1 h here, and the backend never closes
 * an idle connection itself, so only the retirement can close them). The request in flight
 * across the reload is answered in full. Counted at a real mTLS backend, for one process and
 * for `--workers 2` (each worker retires its own snapshot). A reload that changes nothing still
 * builds new pools: the next request is a new, full handshake (docs/limits.md).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { spawnGateway } from '../support/process.js'
import { echo, startMtlsServer, type EchoReply } from '../support/tls-server.js'
import { eventually } from './helpers.js'

describe.each([1, 2])('serve --workers %i: a reload closes the retired snapshot\'s pools', (workers) => {
  it('idle connections close once the request in flight across the reload is answered; that request is not cut', async () => {
    const pki = await createTestPki()
    const held: (() => void)[] = []
    const handler = (req: IncomingMessage, res: ServerResponse): void => (req.url?.startsWith('/hold') ? void held.push(() => echo(req, res)) : echo(req, res))
    const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
    // Node's server closes an idle connection after 5 s by default: here it never does.
    upstream.server.keepAliveTimeout = 0
    const open = (): number => upstream.stats.open
    const config = join(pki.dir, 'gateway.yaml')
    writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), '    timeouts: { keepAlive: 1h }\n')}`)
    const gp = await spawnGateway(config, ['--workers', String(workers)])
    try {
      // Several at once, a few rounds: each process's pool keeps a few connections open.
      for (let round = 0; round < 3; round++) {
        const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => send(gp.url, `/proxy/partner/warm-${round}-${i}`)))
        expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200))
      }
      const pending = send(gp.url, '/proxy/partner/hold')
      await eventually(() => held.length === 1, 60_000, 'the backend to hold a request')
      expect(open()).toBeGreaterThan(1)
      const handshakes = upstream.stats.handshakes
      const from = gp.output.length
      gp.child.kill('SIGHUP')
      await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === workers, 60_000, 'every process to reload')
      held.splice(0).forEach((release) => release())
      const answer = await pending
      expect(answer.status).toBe(200)
      expect(answer.json<EchoReply>().url).toBe('/hold')
      // No request left on the retired snapshots: every connection they held closes.
      await eventually(() => open() === 0, 60_000, 'the retired pools\' connections to close')
      expect(upstream.stats.handshakes).toBe(handshakes)
      // The snapshot in force dials anew: a full handshake (its session cache is new too).
      const resumed = upstream.stats.resumed
      const after = await send(gp.url, '/proxy/partner/after')
      expect(after.status).toBe(200)
      expect(after.json<EchoReply>().resumed).toBe(false)
      expect([upstream.stats.handshakes - handshakes, upstream.stats.resumed - resumed]).toEqual([1, 0])
    } finally {
      await gp.stop('SIGKILL')
      await upstream.close()
      pki.cleanup()
    }
  }, 240_000)
})
