/**
 * Upstream connections across a reload, counted at a real mTLS backend, for one process and for
 * `--workers 2` (each worker retires its own snapshot). A reload that changes what shapes the
 * endpoint's pool (here its connect timeout) builds a new pool, as a fresh start would: once the
 * retired snapshot's last in-flight request is answered its pool closes, and its idle keep-alive
 * connections with it, instead of lingering until `timeouts.keepAlive` (1 h here, and the backend
 * never closes an idle connection itself, so only the retirement can close them); the next
 * request is a new, full handshake. A reload that changes only other things (another endpoint, a
 * field) keeps the pool: no connection closes, the next request rides one of them, no handshake.
 * The request in flight across either reload is answered in full (docs/limits.md).
 * One trigger only, the file watch: the config replaced as editors do, no SIGHUP besides. A write
 * and a SIGHUP are two triggers: when the relayed reload outlasts the watch's debounce (a loaded
 * machine), the watch queues a second reload of the same bytes and every process logs two lines.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { spawnGateway } from '../support/process.js'
import { echo, startMtlsServer, type EchoReply } from '../support/tls-server.js'
import { eventually, replaceFile } from './helpers.js'

/** The config: endpoint `partner` (its connect timeout `connect`), and `other` when asked, both at the backend. */
function gatewayYaml(pki: Awaited<ReturnType<typeof createTestPki>>, port: number, o: { connect: string; other: boolean; field: boolean }): string {
  const field = o.field ? '    fields: [{ type: header, key: X-Added, value: "1" }]\n' : ''
  const partner = endpointYaml('partner', port, clientTls(pki), `    timeouts: { keepAlive: 1h, connect: ${o.connect} }\n${field}`)
  const other = o.other ? endpointYaml('other', port, clientTls(pki)) : ''
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${partner}${other}`
}

const RELOADS = [
  { title: 'changes the endpoint\'s connect timeout builds a new pool; the retired one closes once its request is answered', keeps: false, pools: { kept: 0, built: 1 }, next: { connect: '11s', other: false, field: false } },
  { title: 'adds another endpoint and a field keeps the pool and its connections', keeps: true, pools: { kept: 1, built: 1 }, next: { connect: '10s', other: true, field: true } },
] as const

describe.each([1, 2])('serve --workers %i: a reload and the pools of the snapshot it retires', (workers) => {
  it.each(RELOADS.map((r) => [r.title, r] as const))('a reload that %s; the request in flight across it is not cut', async (_title, { keeps, pools, next }) => {
    const pki = await createTestPki()
    const held: (() => void)[] = []
    const handler = (req: IncomingMessage, res: ServerResponse): void => (req.url?.startsWith('/hold') ? void held.push(() => echo(req, res)) : echo(req, res))
    const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
    // Node's server closes an idle connection after 5 s by default: here it never does.
    upstream.server.keepAliveTimeout = 0
    const open = (): number => upstream.stats.open
    const config = join(pki.dir, 'gateway.yaml')
    writeFileSync(config, gatewayYaml(pki, upstream.port, { connect: '10s', other: false, field: false }))
    const gp = await spawnGateway(config, ['--workers', String(workers)])
    try {
      // Several at once, a few rounds: each process's pool keeps a few connections open.
      for (let round = 0; round < 3; round++) {
        const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => send(gp.url, `/proxy/partner/warm-${round}-${i}`)))
        expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200))
      }
      const pending = send(gp.url, '/proxy/partner/hold')
      await eventually(() => held.length === 1, 60_000, 'the backend to hold a request')
      const openBefore = open()
      expect(openBefore).toBeGreaterThan(1)
      const handshakes = upstream.stats.handshakes
      const from = gp.output.length
      replaceFile(config, gatewayYaml(pki, upstream.port, next))
      await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === workers, 60_000, 'every process to reload')
      // Each process's line (one each: one reload) says what its reload kept and built.
      expect(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => [e.trigger, e.upstreamPools])).toEqual(Array(workers).fill(['file change', pools]))
      held.splice(0).forEach((release) => release())
      const answer = await pending
      expect(answer.status).toBe(200)
      expect(answer.json<EchoReply>().url).toBe('/hold')
      const resumed = upstream.stats.resumed
      if (keeps) {
        // The pool is the new snapshot's: its connections stay open and carry the next requests. One
        // at a time: each finds an idle connection in whichever process takes it, where requests at
        // once could outnumber one process's idle connections and open one more (no reload needed).
        const afterwards = []
        for (let i = 0; i < 4; i++) afterwards.push(await send(gp.url, `/proxy/partner/after-${i}`))
        expect(afterwards.map((r) => r.status)).toEqual(Array(4).fill(200))
        expect(afterwards[0]?.json<EchoReply>().headers['x-added']).toBe('1')
        expect([open(), upstream.stats.handshakes - handshakes]).toEqual([openBefore, 0])
        return
      }
      // No request left on the retired snapshots: every connection they held closes.
      await eventually(() => open() === 0, 60_000, 'the retired pools\' connections to close')
      expect(upstream.stats.handshakes).toBe(handshakes)
      // The snapshot in force dials anew: a full handshake (its session cache is new too).
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
