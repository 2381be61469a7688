/**
 * The set-up of the CONNECT tests: a test PKI with an interception CA, a real mTLS backend
 * `partner`, a TCP echo server (a pass-through destination), an in-process gateway with ops
 * (`startOpsGateway`, no watcher) started before the file's tests, `serve --workers 2` runs for
 * a describe, and a teardown that stops every gateway it started, then the peers, then the PKI.
 * Callers are app `bot` (HS256 secret CALLER_HS), whose bearer is `callerBearer()`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { startOpsGateway, type OpsGateway } from './helpers.js'

const AUD = 'https://gateway.test'
/** App `bot`'s HS256 secret. */
export const CALLER_HS = 'hs-secret-of-at-least-thirty-two-bytes!'
/** The `callers.apps` entry of app `bot` (one line, ends in a newline). */
export const BOT_APP = `    - { clientId: bot, hs256Secret: "${CALLER_HS}", audience: "${AUD}", endpoints: [partner] }\n`

/** A bearer of app `bot` for user-1 (a JWT used as a bearer, 10 minutes). */
export async function callerBearer(): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub: 'user-1', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(CALLER_HS))
}

export interface InterceptionGatewayOptions {
  /** The config for a gateway whose files go in `dir` (called once the PKI, CA and peers exist). */
  yaml: (dir: string) => string
  /** Peers of the file's own, started before the in-process gateway. */
  prepare?: () => Promise<void>
  /** Stops them, after every gateway stopped. */
  teardown?: () => Promise<void>
}

export interface InterceptionGateway {
  readonly pki: TestPki
  readonly ca: { caCert: string; caKey: string }
  readonly upstream: RunningServer
  /** The in-process gateway (files in `<pki.dir>/in-process`). */
  readonly g: OpsGateway
  /** The TCP echo server's port. */
  echoPort(): number
  /** Spawns `serve --workers 2` (files in `<pki.dir>/workers`), killed after the file's tests. */
  spawnWorkers(): Promise<GatewayProcess>
  /** The enclosing describe's `serve --workers 2`, spawned before its tests. */
  workers(): { readonly gp: GatewayProcess }
  /** Stops a gateway a test started, with the fixture's own (after the file's tests, before the peers). */
  stopAfter(stop: () => Promise<unknown>): void
}

/** Registers the hooks of a CONNECT test file; read the parts inside tests and hooks. */
export function useInterceptionGateway(o: InterceptionGatewayOptions): InterceptionGateway {
  let peers: { pki: TestPki; ca: { caCert: string; caKey: string }; upstream: RunningServer; echo: TcpServer } | undefined
  let g: OpsGateway | undefined
  let pki: TestPki | undefined
  let upstream: RunningServer | undefined
  let echo: TcpServer | undefined
  const stops: (() => Promise<unknown>)[] = []
  const must = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the interception fixture has not started ${what}`)
    return value
  }
  const spawnWorkers = async (): Promise<GatewayProcess> => {
    const dir = join(must(peers, 'its peers').pki.dir, 'workers')
    mkdirSync(dir)
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, o.yaml(dir))
    const gp = await spawnGateway(file, ['--workers', '2'])
    stops.push(() => gp.stop('SIGKILL'))
    return gp
  }
  beforeAll(async () => {
    pki = await createTestPki()
    const ca = await writeInterceptionCa(join(pki.dir, 'ica'))
    upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    const server = createTcpServer((s) => s.pipe(s))
    echo = server
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    peers = { pki, ca, upstream, echo: server }
    await o.prepare?.()
    const dir = join(pki.dir, 'in-process')
    mkdirSync(dir)
    const started = await startOpsGateway(dir, o.yaml(dir), { watch: false })
    g = started
    stops.push(() => started.gw.close())
  })
  afterAll(async () => {
    for (const stop of stops) await stop()
    await o.teardown?.()
    await upstream?.close()
    echo?.close()
    pki?.cleanup()
  })
  return {
    get pki() { return must(peers, 'its peers').pki },
    get ca() { return must(peers, 'its peers').ca },
    get upstream() { return must(peers, 'its peers').upstream },
    get g() { return must(g, 'its gateway') },
    echoPort: () => (must(peers, 'its peers').echo.address() as AddressInfo).port,
    spawnWorkers,
    stopAfter: (stop) => void stops.push(stop),
    workers() {
      let gp: GatewayProcess | undefined
      beforeAll(async () => {
        gp = await spawnWorkers()
      })
      return { get gp() { return must(gp, 'its --workers instance') } }
    },
  }
}

/** A config with the echo server as the one pass-through destination, app `bot` required, and a store file of its own. */
export function echoPassThroughYaml(h: InterceptionGateway): string {
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(h.pki.dir, `store-${Math.random().toString(36).slice(2)}.db`)} }\n` +
    `callers:\n  apps:\n${BOT_APP}` +
    `interception:\n  caCert: ${h.ca.caCert}\n  caKey: ${h.ca.caKey}\n  passThrough: [{ host: 127.0.0.1, port: ${h.echoPort()}, allowPrivate: true }]\n` +
    `endpoints:\n${endpointYaml('partner', h.upstream.port, clientTls(h.pki))}`
}
