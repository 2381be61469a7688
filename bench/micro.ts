/**
 * `node dist/bench/micro.js [other-dist …]`: CPU per call of the gateway's own per-request
 * work outside any server — the access-log line, the metrics of a finished request, an OAuth
 * 1.0a signature, reading the caller's client certificate — for this build and each other build given (its dist/), rounds interleaved.
 * CPU time (process.cpuUsage), not wall time, so a busy machine skews it far less; each figure
 * is the median of the rounds. How docs/performance.md measures each change on its own.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { DIST } from './gateways.js'
import { writeBenchPki, type BenchPki } from './pki.js'

interface Case {
  name: string
  run: () => void
}

const ROUNDS = 7
const CALLS = 20_000

/** The server side of a TLS 1.3 connection whose client presented a certificate (and the closer of both). */
async function mtlsConnection(pki: BenchPki): Promise<{ socket: TLSSocket; close(): void }> {
  const file = (f: string): Buffer => readFileSync(f)
  const server = createServer({ cert: file(pki.serverChain), key: file(pki.serverKey), ca: file(pki.root), requestCert: true, rejectUnauthorized: true })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const accepted = new Promise<TLSSocket>((resolve) => server.once('secureConnection', resolve))
  const client = connect({ port, host: '127.0.0.1', servername: 'api.bench.test', ca: file(pki.root), cert: file(pki.clients.plain.chain), key: file(pki.clients.plain.key) })
  client.on('error', () => {})
  const socket = await accepted
  return { socket, close: () => (client.destroy(), server.close()) }
}

async function casesOf(dist: string, conn: TLSSocket): Promise<Case[]> {
  const log = (await import(join(dist, 'src/ops/log.js'))) as typeof import('../src/ops/log.js')
  const metrics = (await import(join(dist, 'src/ops/metrics.js'))) as typeof import('../src/ops/metrics.js')
  const oauth1 = (await import(join(dist, 'src/oauth1/index.js'))) as typeof import('../src/oauth1/index.js')
  const tls = (await import(join(dist, 'src/tls/server.js'))) as typeof import('../src/tls/server.js')
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  const l = log.createLog({ destination: sink as unknown as import('pino').DestinationStream }, ['s3cr3t-consumer', 'pk-bench-0001'])
  const m = metrics.createMetrics({ defaultMetrics: false })
  let i = 0
  const record = (): Parameters<typeof l.access>[0] => ({ id: `req-${i++}`, mode: 'route', method: 'GET', status: 200, durationMs: 1.234, facts: { endpoint: 'signed', caller: 'anonymous', upstreamMs: 0.8 }, requestBytes: 310, responseBytes: 420 })
  const up = { address: '127.0.0.1', tlsVersion: 'TLSv1.3', reused: true, resumed: false, handshakeMs: 3.2 }
  const url = new URL('https://signed.bench.test:8443/bench?a=1')
  return [
    { name: 'access log line', run: () => l.access(record(), up) },
    {
      name: 'metrics of one request',
      run: () => {
        m.inFlight(1)
        m.upstreamReuse('signed')
        m.oauthSignature('bench', 'HMAC-SHA1')
        m.request('signed', 'GET', 200, 1.2, 0.8, { mode: 'route', requestBytes: 310, responseBytes: 420 })
        m.inFlight(-1)
      },
    },
    {
      name: 'OAuth 1.0a HMAC-SHA1 signature (header, URL object as the step passes it)',
      run: () =>
        void oauth1.signRequest({ method: 'GET', url, consumerKey: 'ck-bench', consumerSecret: 's3cr3t-consumer', token: 'tk-bench', tokenSecret: 'tk-secret', signatureMethod: 'HMAC-SHA1', includeVersion: true, bodyHash: false, placement: 'header' }),
    },
    { name: "caller's client certificate (TLS 1.3 listener, per request)", run: () => void tls.peerIdentity(conn) },
  ]
}

function cpuPerCall(c: Case): number {
  const t0 = process.cpuUsage()
  for (let n = 0; n < CALLS; n++) c.run()
  const t = process.cpuUsage(t0)
  return (t.user + t.system) / CALLS
}

const builds = [DIST, ...process.argv.slice(2)]
const pkiDir = mkdtempSync(join(tmpdir(), 'mtlsgw-micro-'))
const mtls = await mtlsConnection(await writeBenchPki(pkiDir))
const suites = await Promise.all(builds.map((b) => casesOf(b, mtls.socket)))
const figures = suites.map((cases) => cases.map(() => [] as number[]))
// One case at a time (its rounds interleaved across builds): the garbage one case leaves, e.g. the
// old certificate reads, is collected while that case is measured, not charged to the next.
for (const k of (suites[0] ?? []).keys()) for (let r = 0; r < ROUNDS; r++) suites.forEach((cases, b) => { const c = cases[k]; if (c) figures[b]?.[k]?.push(cpuPerCall(c)) })
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
process.stdout.write(`| work (µs CPU per call, median of ${ROUNDS} × ${CALLS}) | ${builds.map((b, k) => (k === 0 ? 'this build' : b)).join(' | ')} |\n|---|${builds.map(() => '--:').join('|')}|\n`)
for (const [k, c] of (suites[0] ?? []).entries()) process.stdout.write(`| ${c.name} | ${figures.map((f) => median(f[k] ?? []).toFixed(2)).join(' | ')} |\n`)
mtls.close()
rmSync(pkiDir, { recursive: true, force: true })
