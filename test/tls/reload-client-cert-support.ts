/**
 * What the tests of requireClientCert across a reload share: two PKIs (the client CA before and
 * after the reload), the gateway's config, real TLS clients that keep their connection open, and
 * a relay that holds a caller's handshake across the reload.
 */
import { copyFileSync, readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { replaceFile } from '../ops/helpers.js'
import { afterAll, beforeAll } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'

/** A client certificate file (chain included) and its key. */
export interface Pair {
  cert: string
  key: string
}

export interface Setup {
  /** Issues the listener certificate and the callers' certificates; `old` is the client CA at start. */
  old: TestPki
  /** The client CA a reload rotates to. */
  next: TestPki
  oldCaller: Pair
  nextCaller: Pair
  upstream: RunningServer
  /** A plain TCP echo server: the pass-through destination. */
  echo: { port: number; close(): Promise<void> }
  ica: { caCert: string; caKey: string }
  /** The listeners' client CA file (`old`'s root at start). */
  clientCa: string
  /** Requests to /hold/… wait until release() (in flight across the reload); how many wait now. */
  release(): void
  waiting(): number
  cleanup(): Promise<void>
}

/** PKIs, upstream, pass-through echo server. */
export async function setUp(): Promise<Setup> {
  const old = await createTestPki('p256')
  const next = await createTestPki('p256')
  const clientCa = join(old.dir, 'client-ca.pem')
  copyFileSync(old.file('root.crt'), clientCa)
  const ica = await writeInterceptionCa(join(old.dir, 'ica'))
  let release = (): void => {}
  let held = new Promise<void>((resolve) => (release = resolve))
  let waiting = 0
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!req.url?.startsWith('/hold/')) return echo(req, res)
    waiting++
    void held.then(() => {
      waiting--
      echo(req, res)
    })
  }
  const upstream = await startMtlsServer({ cert: old.file('server-chain.crt'), key: old.file('server.key'), ca: old.file('root.crt'), handler })
  const issue = async (pki: TestPki, name: string): Promise<Pair> => pki.writePair(name, await pki.issue({ subject: `CN=${name}`, issuer: pki.inter, usages: ['clientAuth'] }), { chain: [pki.inter] })
  const oldCaller = await issue(old, 'old-caller')
  const nextCaller = await issue(next, 'next-caller')
  const echoServer: Server = createServer((s) => s.pipe(s).on('error', () => s.destroy()))
  await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve))
  const echoPort = (echoServer.address() as { port: number }).port
  return {
    old, next, oldCaller, nextCaller, upstream, ica, clientCa,
    echo: { port: echoPort, close: () => new Promise((resolve) => echoServer.close(() => resolve())) },
    waiting: () => waiting,
    release: () => {
      release()
      held = new Promise<void>((resolve) => (release = resolve))
    },
    cleanup: async () => {
      await upstream.close()
      echoServer.close()
      old.cleanup()
      next.cleanup()
    },
  }
}

/** Both listeners serve TLS with `clientCa` and require (or not) a client certificate; one endpoint, interception, one pass-through host. */
export function gatewayYaml(s: Setup, requireClientCert: boolean): string {
  const tls = `{ cert: ${s.old.file('server-chain.crt')}, key: ${s.old.file('server.key')}, clientCa: ${s.clientCa}, requireClientCert: ${requireClientCert} }`
  return `listen:
  host: 127.0.0.1
  port: 0
  tls: ${tls}
admin: { host: 127.0.0.1, port: 0, tls: ${tls} }
interception:
  caCert: ${s.ica.caCert}
  caKey: ${s.ica.caKey}
  passThrough: [{ host: 127.0.0.1, port: ${s.echo.port}, allowPrivate: true }]
endpoints:
  - name: partner
    url: https://api.partner.test:${s.upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(s.old)}
`
}

/** TLS to `port` (directly, or through a relay) with a client certificate. */
export function connectWith(port: number, s: Setup, pair: Pair | undefined): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const c = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(s.old.file('root.crt')), ...(pair ? { cert: readFileSync(pair.cert), key: readFileSync(pair.key) } : {}) }, () => resolve(c))
    c.once('error', reject)
  })
}

/** Whether the connection is closed, or closes within `ms`, without a byte more. */
export function closesWithin(c: TLSSocket, ms: number): Promise<{ closed: boolean; bytes: number }> {
  return new Promise((resolve) => {
    let bytes = 0
    if (c.destroyed) return resolve({ closed: true, bytes })
    const onData = (b: Buffer): void => void (bytes += b.length)
    c.on('data', onData)
    c.on('error', () => {})
    const timer = setTimeout(() => resolve({ closed: false, bytes }), ms)
    c.once('close', () => {
      clearTimeout(timer)
      resolve({ closed: true, bytes })
    })
  })
}

/** A gateway process serving gatewayYaml(s, requireClientCert) (`args`: --workers 2), with its listeners' ports. */
export async function spawnOn(s: Setup, requireClientCert: boolean, args: string[] = []): Promise<{ gp: GatewayProcess; port: number; adminPort: number }> {
  const file = join(s.old.dir, 'gateway.yaml')
  replaceFile(file, gatewayYaml(s, requireClientCert))
  const gp = await spawnGateway(file, args)
  return { gp, port: Number(new URL(gp.url).port), adminPort: Number(new URL(await adminUrlOf(gp)).port) }
}

/** The PKIs and a gateway process the tests of a file share (set by its beforeAll; `args`: --workers 2). */
export interface Fixture {
  s: Setup
  gp: GatewayProcess
  port: number
  adminPort: number
}

/** Registers beforeAll (PKIs, gateway with requireClientCert) and afterAll (stopped, removed); the fields are set once beforeAll ran. */
export function gatewayFixture(args: string[], timeoutMs: number): Fixture {
  const f = {} as Fixture
  beforeAll(async () => {
    f.s = await setUp()
    Object.assign(f, await spawnOn(f.s, true, args))
  }, timeoutMs)
  afterAll(async () => {
    await f.gp?.stop('SIGKILL')
    await f.s?.cleanup()
  })
  return f
}
