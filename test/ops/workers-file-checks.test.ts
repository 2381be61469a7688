/**
 * `serve --workers 2` refuses the files `check` refuses, in check's words, at a start and at a
 * SIGHUP reload: a `listen.tls.clientCa` with no certificate, a `tracing.otlp.tls.key` of another
 * certificate, a `store.redis.tls.key` of another certificate (a real TLS Redis) and a SQLite
 * `store.file` in a read-only folder. The primary judges the config and relays it, so a start
 * prints the problem once and leaves nothing running; a refused reload logs why and every worker
 * keeps serving the last good config (requests answered by both), and the next good one is accepted.
 *
 * Read-only needs a mount (root ignores permission bits): every process here runs in a private
 * mount namespace (`unshare`) where `ro/` is bind-mounted read-only; it ends with the process.
 * Before the fix, a reload's store problems said `store:`, wrapping check's (`store.redis.tls.key`,
 * `store.file`) text, and a start's SQLite refusal named no file and key.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, exitedOf, MAIN, spawnGateway, type GatewayProcess } from '../support/process.js'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { childPids, eventually, RELOAD_REFUSED, replaceFile, scrape, valueOf, STORE_CALLERS } from './helpers.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let upstream: RunningServer
let redis: Peer
const f = { ro: '', clientCa: '', otlpCert: '', otlpKey: '', otherKey: '' }

/**
 * argv prefix: runs the command in a private mount namespace with `ro/` read-only. No `--fork`:
 * the command replaces unshare's process, so the spawned process is the primary (a signal reaches it).
 */
const inNamespace = (): string[] => ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind '${f.ro}' '${f.ro}' && mount -o remount,bind,ro '${f.ro}' && exec "$0" "$@"`]

/** The good config; `store` adds a store (and the caller apps that make a start open it). */
function yaml(store = ''): string {
  return `listen: { host: 127.0.0.1, port: 0, tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')}, clientCa: ${f.clientCa}, requireClientCert: true } }\nadmin: { port: 0 }\n` +
    `tracing:\n  enabled: true\n  otlp: { endpoint: "https://127.0.0.1:1/v1/traces", tls: { ca: ${pki.file('root.crt')}, cert: ${f.otlpCert}, key: ${f.otlpKey} } }\n` +
    (store ? `${store}\n${STORE_CALLERS}` : '') + `endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
}
const redisStore = (): string => `store: { kind: redis, url: "rediss://127.0.0.1:${redis.port}", keyPrefix: "wparity:", redis: { tls: { ca: ${pki.file('root.crt')}, cert: ${pki.file('client.crt')}, key: ${f.otherKey}, serverName: localhost } } }`
const sqliteStore = (): string => `store: { file: ${join(f.ro, 'gateway.db')} }`

/** The bad files and configs: `file` is replaced by `text` (a reload), or the config is `config`. */
interface Fault { name: string; file?: string; text?: () => string; config?: () => string }
const faults: Fault[] = [
  { name: 'empty listen.tls.clientCa', file: 'clientCa', text: () => '' },
  { name: 'tracing.otlp.tls.key of another certificate', file: 'otlpKey', text: () => readFileSync(f.otherKey, 'utf8') },
  { name: 'store.redis.tls.key of another certificate (TLS Redis)', config: redisStore },
  { name: 'SQLite store.file in a read-only folder', config: sqliteStore },
]

/** `check`'s problem lines for `config` (run in the namespace); it must exit 1. */
async function checkLines(config: string): Promise<string[]> {
  const [cmd, ...args] = [...inNamespace(), process.execPath, MAIN, 'check', '--config', config]
  const r = await promisify(execFile)(cmd as string, args, { timeout: 120_000 }).then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e)
  if (r?.code !== 1) throw new Error(`check did not exit 1 on ${config}`)
  return (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('/'))
}

beforeAll(async () => {
  pki = await createTestPki()
  f.ro = pki.file('ro')
  mkdirSync(f.ro)
  f.clientCa = pki.write('listener-client-ca.crt', pki.root.pem)
  f.otlpCert = pki.file('client.crt')
  f.otlpKey = pki.write('otlp.key', readFileSync(pki.file('client.key'), 'utf8'))
  f.otherKey = pki.file('server.key')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  redis = await startRedisServer({ tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), authClients: 'no' } })
})
afterAll(async () => {
  await upstream?.close()
  await redis?.stop()
  pki?.cleanup()
})

/** Writes config `name` with the fault applied to copies of its files. */
function faultyConfig(c: Fault, name: string): string {
  if (c.config) return pki.write(name, yaml(c.config()))
  const copy = pki.write(`${name}.${c.file ?? ''}`, c.text?.() ?? '')
  return pki.write(name, yaml().replace(`: ${f[c.file as keyof typeof f]}`, `: ${copy}`))
}

describe('a start with a file check refuses: exit 1, check\'s line once, nothing left running', () => {
  it.each(faults.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const config = faultyConfig(c, `start-${i}.yaml`)
    const lines = await checkLines(config)
    expect(lines).toHaveLength(1)
    const [cmd, ...args] = [...inNamespace(), process.execPath, MAIN, 'serve', '--workers', '2', '--config', config]
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (c: string) => (output += c))
    // 'close': every process holding its pipes (a worker too) has exited.
    expect(await exitedOf(child)).toBe(1)
    expect(output.split('\n').filter((l) => l.includes(lines[0] as string))).toEqual([`mtls-gateway: ${lines[0]}`])
  }, 120_000)
})

/** A request on a new connection through the TLS listener (with a caller certificate); resolves with the status. */
function proxied(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = request({ host: u.hostname, port: u.port, path: '/proxy/partner/ping', agent: false, ca: pki.root.pem, cert: pki.client.pem + pki.inter.pem, key: readFileSync(pki.file('client.key')) }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject).end()
  })
}

describe('a SIGHUP reload to each bad file is refused in check\'s words; both workers keep serving; a good reload follows', () => {
  let gp: GatewayProcess
  let config: string
  beforeAll(async () => {
    config = pki.write('gateway.yaml', yaml())
    gp = await spawnGateway(config, ['--workers', '2'], {}, inNamespace())
  }, 120_000)
  afterAll(async () => {
    await gp?.stop('SIGKILL')
  })

  it('refuses all four, one after another, and accepts the good config after each', async () => {
    const admin = await adminUrlOf(gp)
    const primary = gp.child.pid as number
    const workers = childPids(primary)
    expect(workers).toHaveLength(2)
    const entries = (from: number): Record<string, unknown>[] => gp.logEntries(from)
    const servedByEach = async (from: number): Promise<void> => {
      await eventually(async () => {
        expect(await proxied(gp.url)).toBe(200)
        const served = new Set(entries(from).filter((e) => e.msg === 'request' && e.status === 200).map((e) => e.pid))
        return workers.every((w) => served.has(w))
      }, 60_000, 'a request answered by each worker')
    }
    for (const c of faults) {
      const from = gp.output.length
      const failures = valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'failure' }) ?? 0
      const file = c.file ? f[c.file as keyof typeof f] : undefined
      const good = file ? readFileSync(file, 'utf8') : yaml()
      if (file) replaceFile(file, c.text?.() ?? '')
      else replaceFile(config, yaml(c.config?.()))
      const expected = await checkLines(config)
      sendSignal(primary, 'SIGHUP')
      // A file change may reload first (the file is watched); SIGHUP then joins or follows it: both are refused.
      const refused = await eventually(() => entries(from).find((e) => e.msg === RELOAD_REFUSED), 60_000, `the reload refusing ${c.name}`)
      expect({ fault: c.name, pid: refused.pid, problems: refused.problems }).toEqual({ fault: c.name, pid: primary, problems: expected })
      expect(valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'failure' })).toBeGreaterThan(failures)
      // The primary relayed nothing: both workers still serve the last good config (with an
      // empty clientCa they would refuse this caller's certificate: requireClientCert).
      await servedByEach(from)
      // Put back: the next SIGHUP reload is accepted by every worker.
      const back = gp.output.length
      replaceFile(file ?? config, good)
      sendSignal(primary, 'SIGHUP')
      await eventually(() => entries(back).some((e) => e.msg === 'reload accepted by every worker'), 60_000, `the good reload after ${c.name}`)
      await servedByEach(back)
    }
    expect(childPids(primary)).toEqual(workers)
  }, 400_000)
})
