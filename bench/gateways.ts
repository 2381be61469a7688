/**
 * The Node processes under test, built from dist: "bare" (startGateway without ops: no access
 * log, no metrics), "prod" (`mtls-gateway serve --workers 1`: access log, metrics, admin
 * listener, reload watching) and the minimal undici forwarder (the floor).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLIENTS, HOSTS, type BenchPki } from './pki.js'
import type { Upstream } from './peers.js'
import { freePort, startProc, type Proc } from './procs.js'

/** Consumer and token of the realistic path's OAuth 1.0a profile (HMAC-SHA1, header placement). */
export const OAUTH = { consumerKey: 'benchconsumer000001', consumerSecret: 'bench-consumer-secret', token: 'benchaccesstoken000001', tokenSecret: 'bench-token-secret' }

/** The gateways' config: "plain" (mTLS only) and "signed" (mTLS + OAuth 1.0a + one header field). */
export function gatewayYaml(pki: BenchPki, upstream: Upstream, port: number, adminPort: number, o: { limitsOff?: boolean; extra?: string } = {}): string {
  const tls = (c: keyof typeof CLIENTS): string =>
    `    tls: { cert: ${pki.clients[c].cert}, key: ${pki.clients[c].key}, intermediates: ${pki.inter}, roots: ${pki.root} }\n`
  // The baseline of what the listener limits cost: every timeout off, no practical cap.
  const listen = o.limitsOff === true
    ? `listen:\n  host: 127.0.0.1\n  port: ${port}\n  timeouts: { headers: 0, bodyIdle: 0, bufferedBody: 0, keepAlive: 0, tlsHandshake: 0, sendIdle: 0, tunnelIdle: 0 }\n  connections: { max: 1000000 }`
    : `listen: { host: 127.0.0.1, port: ${port} }`
  return `${o.extra ?? ''}${listen}
admin: { host: 127.0.0.1, port: ${adminPort} }
interception: { caCert: ${pki.interceptionCa.caCert}, caKey: ${pki.interceptionCa.caKey} }
profiles:
  - name: bench
    consumerKey: ${OAUTH.consumerKey}
    consumerSecret: ${OAUTH.consumerSecret}
    signatureMethod: HMAC-SHA1
    token: { mode: static, token: ${OAUTH.token}, tokenSecret: ${OAUTH.tokenSecret} }
endpoints:
  - name: plain
    url: https://${HOSTS.plain}:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
${tls('plain')}  - name: signed
    url: https://${HOSTS.signed}:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: bench
    fields: [{ type: header, key: X-Partner-Key, value: "pk-bench-0001" }]
${tls('signed')}`
}

export interface GatewayProc extends Proc {
  port: number
  adminPort?: number
}

/** This build's dist/ (the gateways of another build: pass its dist/). */
export const DIST = new URL('..', import.meta.url).pathname

/** `mtls-gateway serve --workers 1`: the production entry, logs to a file in its dir. */
/** How to run a gateway: node flags (--cpu-prof), which build (its dist/), a tag for its dir and name. */
export interface GatewayRun {
  nodeArgs?: string[]
  dist?: string
  tag?: string
  /** taskset CPU list. */
  cpus?: string
  /** The node binary (default: the one running the bench). */
  node?: string
  /** YAML prepended to the config (the tracing rows add a `tracing` section). */
  yaml?: string
  /** Every listener timeout off (the limits' baseline). */
  limitsOff?: boolean
  /** A command node runs under, with its options (bench/instructions.ts: valgrind). */
  wrap?: readonly string[]
  /** How long the process may take to serve (default startProc's). */
  timeoutMs?: number
}

/** What startProc runs for node with these arguments: under `o.wrap` when given. */
function nodeCommand(o: GatewayRun, args: readonly string[]): { command: string; args: string[]; timeoutMs?: number } {
  const node = [o.node ?? process.execPath, ...(o.nodeArgs ?? []), ...args]
  const [command, ...rest] = [...(o.wrap ?? []), ...node] as [string, ...string[]]
  return { command, args: rest, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }
}

export async function startProdGateway(root: string, pki: BenchPki, upstream: Upstream, o: GatewayRun = {}): Promise<GatewayProc> {
  const { dist = DIST } = o
  const tag = `${o.limitsOff ? '-limits-off' : ''}${o.tag ?? ''}`
  const dir = join(root, `gateway-prod${tag}`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const adminPort = await freePort()
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, gatewayYaml(pki, upstream, port, adminPort, { limitsOff: o.limitsOff === true, extra: o.yaml ?? '' }))
  const main = join(dist, 'src', 'main.js')
  const proc = await startProc({ name: `gateway-prod${tag}`, ...nodeCommand(o, [main, 'serve', '--config', config, '--workers', '1']), cwd: dir, port, readyLine: /"msg":"listening"/, ...(o.cpus !== undefined ? { cpus: o.cpus } : {}) })
  return Object.assign(proc, { port, adminPort })
}

/** The gateway without ops (startGateway only): the cost of forwarding alone. */
export async function startBareGateway(root: string, pki: BenchPki, upstream: Upstream, o: GatewayRun = {}): Promise<GatewayProc> {
  const { dist = DIST, tag = '' } = o
  const dir = join(root, `gateway-bare${tag}`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, gatewayYaml(pki, upstream, port, 0))
  const entry = join(dist, 'bench', 'gateway-bare.js')
  const proc = await startProc({ name: `gateway-bare${tag}`, ...nodeCommand(o, [entry, config]), cwd: dir, port, readyLine: /"msg":"listening"/, ...(o.cpus !== undefined ? { cpus: o.cpus } : {}) })
  return Object.assign(proc, { port })
}

/** The minimal undici forwarder (bench/forwarder.ts) to the upstream, with the "plain" client bundle. */
export async function startForwarder(root: string, pki: BenchPki, upstream: Upstream, o: GatewayRun = {}): Promise<GatewayProc> {
  const { dist = DIST, tag = '' } = o
  const dir = join(root, `forwarder${tag}`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const settings = join(dir, 'settings.json')
  const c = pki.clients.plain
  writeFileSync(settings, JSON.stringify({ port, origin: `https://127.0.0.1:${upstream.port}`, servername: HOSTS.plain, cert: c.chain, key: c.key, ca: pki.root }))
  const proc = await startProc({ name: `forwarder${tag}`, ...nodeCommand(o, [join(dist, 'bench', 'forwarder.js'), settings]), cwd: dir, port, readyLine: /"msg":"listening"/, ...(o.cpus !== undefined ? { cpus: o.cpus } : {}) })
  return Object.assign(proc, { port })
}

/** The production gateway with tracing on at this sampling ratio, exporting to `otlp` (the bench's sink). */
export function startTracedGateway(root: string, pki: BenchPki, upstream: Upstream, ratio: number, otlp: string, o: GatewayRun = {}): Promise<GatewayProc> {
  const yaml = `tracing:\n  enabled: true\n  sampler: { ratio: ${ratio} }\n  otlp: { endpoint: ${otlp} }\n`
  return startProdGateway(root, pki, upstream, { ...o, tag: `-traced-${ratio * 100}pct${o.tag ?? ''}`, yaml })
}
