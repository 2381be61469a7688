/**
 * A client looping failed TLS handshakes on the listener (here: a certificate listen.tls.clientCa
 * does not verify) writes a bounded number of log lines, with `--workers 2` as with one process:
 * per worker at most logging.callerFaults.burst lines per interval, the rest said as one summary
 * line ("suppressed K similar lines in the last T s (bad_request)", written when the interval
 * ends or, as here, when the worker drains), while requests_total counts every handshake.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, exitedOf, spawnGateway } from '../support/process.js'
import { listenerTlsYaml } from '../support/listener-tls.js'
import { eventually } from '../support/eventually.js'
import { scrape, valueOf } from './helpers.js'

const HANDSHAKES = 80
const BURST = 4
const WORKERS = 2

let pki: TestPki
let upstream: RunningServer
let config: string
let rogue: { cert: string; key: string }

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  rogue = pki.writePair('rogue', await pki.issue({ subject: 'CN=bot-runtime', issuer: await pki.issue({ subject: 'CN=Rogue CA', ca: true }), usages: ['clientAuth'] }))
  const dir = join(pki.dir, 'gateway')
  mkdirSync(dir)
  const tls = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), clientCa: pki.file('root.crt'), requireClientCert: true }
  // A long interval: every handshake of the test falls in one, whatever the machine's load.
  const extra = `admin: { port: 0 }\nlogging: { callerFaults: { burst: ${BURST}, interval: 5m } }\n`
  config = join(dir, 'gateway.yaml')
  writeFileSync(config, listenerTlsYaml(tls, endpointYaml('partner', upstream.port, clientTls(pki)), extra))
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

/** One real TLS client presenting the rogue certificate; resolves when the gateway has closed it. */
function rogueHandshake(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', cert: readFileSync(rogue.cert), key: readFileSync(rogue.key), rejectUnauthorized: false })
    s.on('error', () => undefined)
    s.once('close', () => resolve())
    s.resume()
  })
}

const refusedCertificate = (e: Record<string, unknown>): boolean => e.msg === 'request' && typeof e.error === 'string' && e.error.includes('does not verify against listen.tls.clientCa')

describe('caller-fault log lines are capped (real gateway, --workers 2)', () => {
  it(`${HANDSHAKES} failed handshakes: at most ${BURST} lines per worker, summaries with the rest, every one counted`, async () => {
    const gp = await spawnGateway(config, ['--workers', String(WORKERS)])
    try {
      const admin = await adminUrlOf(gp)
      const port = Number(new URL(gp.url).port)
      // Ten at a time, the whole count within the test's time.
      for (let i = 0; i < HANDSHAKES; i += 10) await Promise.all(Array.from({ length: 10 }, () => rogueHandshake(port)))
      // A worker counts a handshake when it closes the socket, which the client may see first: wait for the count.
      const counted = async (): Promise<number> => valueOf(await scrape(admin), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'other', status_class: '4xx' }) ?? 0
      await eventually(async () => (await counted()) >= HANDSHAKES, 30_000, `${HANDSHAKES} handshakes counted`)
      expect(await counted()).toBe(HANDSHAKES)
      const exit = exitedOf(gp.child)
      gp.child.kill('SIGTERM')
      expect(await exit).toBe(0)
      const entries = gp.logEntries()
      const lines = entries.filter(refusedCertificate)
      const summaries = entries.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed '))
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.length).toBeLessThanOrEqual(BURST * WORKERS)
      // Per worker (pid): at most the burst, and its summary says exactly how many it held back.
      for (const pid of new Set(lines.map((l) => l.pid))) expect(lines.filter((l) => l.pid === pid).length).toBeLessThanOrEqual(BURST)
      for (const s of summaries) {
        expect(s).toMatchObject({ level: 'warn', listener: 'proxy', kind: 'tls_handshake', reason: 'bad_request', intervalS: 300 })
        expect(s.msg).toBe(`suppressed ${String(s.suppressed)} similar lines in the last 300 s (bad_request)`)
      }
      const suppressed = summaries.reduce((n, s) => n + Number(s.suppressed), 0)
      expect(lines.length + suppressed).toBe(HANDSHAKES)
    } finally {
      await gp.stop('SIGKILL')
    }
  }, 180_000)
})
