/**
 * Helpers of the ops tests: an in-process gateway with ops wired (admin on port 0, log lines
 * captured), a Prometheus text parser, and atomic file replacement.
 */
import { request as httpRequest } from 'node:http'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createLog, createOps, type Ops, type OpsOptions } from '../../src/ops/index.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

import { eventually } from '../support/eventually.js'
export { eventually }

export interface OpsGateway {
  gw: RunningGateway
  ops: Ops
  /** Every log line written so far (raw JSON text). */
  lines: string[]
  adminUrl: string
  /** Parsed log entries with msg "request". */
  access(): Record<string, unknown>[]
}

/** Starts the gateway in-process from `yaml` with metrics, logs, admin and reload on. */
export async function startOpsGateway(dir: string, yaml: string, extra: Partial<OpsOptions> = {}): Promise<OpsGateway> {
  const lines: string[] = []
  const log = createLog({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } })
  const ops = createOps({ log, admin: { host: '127.0.0.1', port: 0 }, debounceMs: 100, ...extra })
  const gw = await startTestGateway(dir, yaml, { ops })
  const adminUrl = gw.ops?.adminUrl
  if (!adminUrl) throw new Error('admin listener did not start')
  // Each line parsed once: tests poll access() (intercepted-handshake's property thousands of times)
  // while the lines grow into thousands; parsing them all on every poll was a quarter of that file's
  // CPU. Frozen: one test's reading cannot change what the next reads.
  const parsed: { line: string; entry: Readonly<Record<string, unknown>> }[] = []
  const access = (): Record<string, unknown>[] => {
    // Lines cut or replaced since (no test does): parsed again from the start.
    if (parsed.length > lines.length || (parsed.length > 0 && parsed[parsed.length - 1]?.line !== lines[parsed.length - 1])) parsed.length = 0
    for (let i = parsed.length; i < lines.length; i++) {
      const line = lines[i] as string
      parsed.push({ line, entry: Object.freeze(JSON.parse(line) as Record<string, unknown>) })
    }
    return parsed.map((p) => p.entry).filter((e) => e.msg === 'request')
  }
  return { gw, ops, lines, adminUrl, access }
}

/**
 * Waits for the access line (from index `from` of `g.access()` on) that `is` picks, and returns it:
 * found by what identifies it (its reqId, method, status, reason), never by its position. A line is
 * written when its request finished on the gateway's side, which can be after the caller read the
 * answer: an earlier request's line may still land after a count taken for a later one.
 */
export function accessLineWhere(g: Pick<OpsGateway, 'access'>, is: (e: Record<string, unknown>) => boolean, what: string, o: { from?: number; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
  return eventually(() => g.access().slice(o.from ?? 0).find(is), o.timeoutMs ?? 15_000, what)
}

/**
 * Waits until `count` access lines (from index `from` of `g.access()` on) are ones `is` picks, and
 * returns every one it picks then: the test checks how many (a line written late is waited for, one
 * too many is still seen). Picked by what identifies them, as accessLineWhere.
 */
export function accessLinesWhere(g: Pick<OpsGateway, 'access'>, is: (e: Record<string, unknown>) => boolean, count: number, what: string, o: { from?: number; timeoutMs?: number } = {}): Promise<Record<string, unknown>[]> {
  return eventually(() => {
    const found = g.access().slice(o.from ?? 0).filter(is)
    return found.length >= count && found
  }, o.timeoutMs ?? 15_000, what)
}

/** GET on a plain HTTP URL: status and body. */
export function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    }).on('error', reject).end()
  })
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text format (enough of it for prom-client's output). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    // An OpenMetrics exemplar (` # {trace_id="…"} value timestamp`) may follow a bucket's value.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})? (\S+)(?: # \{.*)?$/.exec(line)
    if (!m) throw new Error(`unparsable metrics line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

/** Every sample of one metric, labels and value, in a stable order. */
export function samples(all: Sample[], name: string): { labels: Record<string, string>; value: number }[] {
  return all
    .filter((s) => s.name === name)
    .map((s) => ({ labels: s.labels, value: s.value }))
    .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)))
}

/** The value of the sample with exactly these labels (undefined when absent). */
export function valueOf(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort())
  return all.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value
}

/** Scrapes /metrics of an admin URL. */
export async function scrape(adminUrl: string): Promise<Sample[]> {
  const r = await get(`${adminUrl}/metrics`)
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`)
  return parseMetrics(r.text)
}

/** Replaces a file the way editors and Kubernetes do: write aside, then rename over it. */
export function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}

/** The worker processes of a `--workers` primary: its children. */
export function childPids(primary: number): number[] {
  return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number)
}

/** Whether process `pid` still exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The lowest descriptor number `pid` has free: a soft limit of it makes its next open() fail (EMFILE). */
export function lowestFreeFd(pid: number): number {
  const open = new Set(readdirSync(`/proc/${pid}/fd`).map(Number))
  let n = 0
  while (open.has(n)) n++
  return n
}

/** Runs `fn` with `pid` at its descriptor limit (its next open() fails: EMFILE), then gives back its soft limit. */
export async function atDescriptorLimit<T>(pid: number, fn: () => Promise<T>): Promise<T> {
  const soft = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] as string
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${lowestFreeFd(pid)}:`])
  try {
    return await fn()
  } finally {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`])
  }
}

/** Caller apps with a required-false `callers` section: the first config that needs the store. */
export const STORE_CALLERS = `callers:\n  required: false\n  apps: [{ clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }]\n`

/** YAML that makes a config need the store (a caller app of endpoint `partner`), at `storeFile`. */
export function callersAtStore(storeFile: string): string {
  return `store: { file: ${storeFile} }\n${STORE_CALLERS}`
}

/** Writes `yaml` to `<dir>/gateway.yaml` and spawns `serve --workers 2` on it. */
export async function spawnTwoWorkers(dir: string, yaml: string): Promise<{ gp: GatewayProcess; config: string }> {
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, yaml)
  return { gp: await spawnGateway(config, ['--workers', '2']), config }
}

/**
 * The reloads a `serve` process put in force for its whole instance, from output line `from` on: its
 * own `config reloaded` lines as one process, or, as a cluster primary (the default `--workers` is the
 * machine's CPUs), its `reload accepted by every worker` lines. A worker's `config reloaded` comes
 * before its primary's verdict, and the primary's admin listener (the console, /metrics) follows
 * the configs it accepted: one worker's line is not yet the instance's reload.
 */
export function instanceReloads(gp: GatewayProcess, from = 0): number {
  return gp.logEntries(from).filter((e) => (e.msg === 'config reloaded' && e.pid === gp.child.pid) || e.msg === 'reload accepted by every worker').length
}

/** The line a refused reload logs (the primary's verdict with --workers). */
export const RELOAD_REFUSED = 'config reload failed; keeping the last good config'

/** The problems of the first refused reload `gp` logs from output line `from` on (waits for it). */
export async function refusedReloadProblems(gp: GatewayProcess, from: number): Promise<unknown> {
  const refused = await eventually(() => gp.logEntries(from).find((e) => e.msg === RELOAD_REFUSED), 60_000, 'the reload to be refused')
  return refused.problems
}

/** A test PKI, a real mTLS upstream (endpoint `partner`) and `serve --workers 2` on a config naming it; stop() ends all three. */
export interface PartnerWorkers {
  pki: TestPki
  gp: GatewayProcess
  upstream: RunningServer
  config: string
  yaml: string
  stop(): Promise<void>
}

/** Starts a PartnerWorkers. */
export async function startPartnerWorkers(): Promise<PartnerWorkers> {
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  const { gp, config } = await spawnTwoWorkers(pki.dir, yaml)
  return {
    pki, gp, upstream, config, yaml,
    async stop() {
      await gp.stop('SIGKILL')
      await upstream.close()
      pki.cleanup()
    },
  }
}
