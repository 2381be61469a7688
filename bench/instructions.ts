/**
 * `node dist/bench/instructions.js`: instructions per request, the floor against the gateway
 * paths, counted by valgrind's callgrind (user space, every thread) instead of timed: a second
 * opinion when CPU time on a shared VM spreads up to 2 × between rounds. The floor's count
 * repeats to about 1.5 %, the gateways' moved by up to 30 % between runs (docs/performance.md,
 * "Running it"), so only large differences can be read from one run. Each process runs under
 * callgrind; per path and body it is warmed up, its counters are zeroed (`callgrind_control
 * -z`), a fixed number of requests is sent and the counters are dumped (`callgrind_control
 * -d`). Slow (valgrind runs Node ~50 × slower): about 20 minutes for the four core paths.
 * Needs valgrind (`apt-get install -y valgrind`).
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { startBareGateway, startForwarder, startProdGateway, type GatewayRun } from './gateways.js'
import { fixedCount } from './load.js'
import { setupPaths, type BodyKind, type PathName, type Processes } from './paths.js'
import { startNginxProxy, startUpstream } from './peers.js'
import { writeBenchPki } from './pki.js'
import { scratchDir, type Proc } from './procs.js'
import { bodyCostMarkdown, bodyCosts } from './report.js'

const USAGE = `node dist/bench/instructions.js [options]
  --paths a,b       undici_forwarder, gateway_mtls, gateway_realistic, gateway_connect (default all four)
  --bodies a,b      empty, 64k (default both)
  --requests N      counted requests per path and body, empty body (default 1500; 64 KiB: a third)
  --warmup N        requests before counting, per path and body, empty body (default 4000; 64 KiB:
                    a third): under valgrind the JIT needs about this many to optimize the path
  --users N         concurrent connections (default 4)
  --node BIN        the node binary under test (default this one)
  --keep            keep the run's directory: one callgrind dump per window (callgrind.<pid>.<n>),
                    for callgrind_annotate (native functions by name; JIT code shows as addresses)`

const PATHS: readonly PathName[] = ['undici_forwarder', 'gateway_mtls', 'gateway_realistic', 'gateway_connect']

export interface InstructionCount {
  path: PathName
  body: BodyKind
  requests: number
  instructionsPerRequest: number
}

/** The instruction total of a callgrind dump ("summary:" in a dump, "totals:" in older ones). */
export function dumpTotal(text: string): number {
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text)
  if (!m) throw new Error('no instruction total in the callgrind dump')
  return Number(m[1])
}

/** Zeroes the counters of a process under callgrind. */
function zero(pid: number): void {
  execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' })
}

/** Dumps a process's counters and returns the instructions since they were zeroed. */
function dump(dir: string, pid: number): number {
  const prefix = `callgrind.${pid}.`
  const before = new Set(readdirSync(dir).filter((f) => f.startsWith(prefix)))
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' })
  const fresh = readdirSync(dir).filter((f) => f.startsWith(prefix) && !before.has(f))
  const file = fresh.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs)[0]
  if (file === undefined) throw new Error(`callgrind_control -d ${pid} wrote no dump in ${dir}`)
  return dumpTotal(readFileSync(join(dir, file), 'utf8'))
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({ options: { paths: { type: 'string' }, bodies: { type: 'string' }, requests: { type: 'string' }, warmup: { type: 'string' }, users: { type: 'string' }, node: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' } } })
  if (a.help === true) return void process.stdout.write(USAGE + '\n')
  const paths = a.paths === undefined ? PATHS : (a.paths.split(',') as PathName[])
  for (const p of paths) if (!PATHS.includes(p)) throw new Error(`--paths: ${p} is not one of ${PATHS.join(', ')}`)
  const bodies = (a.bodies?.split(',') ?? ['empty', '64k']) as BodyKind[]
  const requests = Number(a.requests ?? 1500)
  const warmup = Number(a.warmup ?? 4000)
  const users = Number(a.users ?? 4)
  const dir = scratchDir('mtls-gateway-instructions-', a.keep === true)
  const procs: Proc[] = []
  try {
    const pki = await writeBenchPki(dir)
    const upstream = await startUpstream(dir, pki)
    procs.push(upstream)
    const nginx = await startNginxProxy(dir, pki, upstream)
    procs.push(nginx)
    const run: GatewayRun = {
      wrap: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${join(dir, 'callgrind.%p')}`, '--smc-check=all-non-file'],
      timeoutMs: 300_000,
      ...(a.node !== undefined ? { node: a.node } : {}),
    }
    process.stderr.write('starting the floor and the gateways under callgrind…\n')
    const bare = await startBareGateway(dir, pki, upstream, run)
    procs.push(bare)
    const prod = await startProdGateway(dir, pki, upstream, run)
    procs.push(prod)
    const p: Processes = { upstream, nginx, bare, prod }
    if (paths.includes('undici_forwarder')) procs.push((p.forwarder = await startForwarder(dir, pki, upstream, run)))
    const setups = setupPaths(pki, p)
    const counts: InstructionCount[] = []
    for (const path of paths) {
      const setup = setups[path]
      const pid = setup?.proxy?.pid
      if (!setup || pid === undefined) continue
      for (const body of bodies) {
        // A 64 KiB request costs about 3 × an empty one: a third of the count keeps each window alike.
        const [n, warm] = body === 'empty' ? [requests, warmup] : [Math.max(1, Math.round(requests / 3)), Math.round(warmup / 3)]
        const t = setup.target(body, users)
        try {
          await fixedCount(t, users, warm)
          zero(pid)
          const r = await fixedCount(t, users, n)
          const instructions = dump(dir, pid)
          const bad = r.errors + r.mismatches + Object.entries(r.statuses).reduce((k, [s, c]) => k + (s === '200' ? 0 : c), 0)
          if (bad > 0) throw new Error(`${path} ${body}: ${bad} of ${n} requests failed (${r.firstError ?? r.firstMismatch ?? JSON.stringify(r.statuses)})`)
          counts.push({ path, body, requests: n, instructionsPerRequest: instructions / n })
          process.stderr.write(`${path} ${body}: ${(instructions / n / 1000).toFixed(0)} k instructions per request over ${n} (pid ${pid})\n`)
        } finally {
          await t.dispatcher.destroy()
        }
      }
    }
    process.stdout.write(instructionsMarkdown(counts))
  } finally {
    await Promise.allSettled(procs.map((q) => q.stop()))
    if (a.keep === true) process.stderr.write(`kept ${dir}\n`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

/** The counts as a table, with the floor ratio, and what a 64 KiB body adds (as bench/report.ts prints CPU). */
export function instructionsMarkdown(counts: readonly InstructionCount[]): string {
  const floor = (body: BodyKind): number | undefined => counts.find((c) => c.path === 'undici_forwarder' && c.body === body)?.instructionsPerRequest
  const k = (x: number): string => `${(x / 1000).toFixed(0)} k`
  const lines = ['| path | body | instructions per request | vs floor | requests counted |', '|---|---|--:|--:|--:|']
  for (const c of counts) {
    const f = floor(c.body)
    lines.push(`| ${c.path} | ${c.body === 'empty' ? 'GET, empty' : 'POST 64 KiB'} | ${k(c.instructionsPerRequest)} | ${f === undefined ? '—' : `${(c.instructionsPerRequest / f).toFixed(2)} ×`} | ${c.requests} |`)
  }
  const costs = bodyCosts(counts.map((c) => ({ path: c.path, label: c.path, body: c.body, cpuUsPerReq: c.instructionsPerRequest / 1000 })))
  return lines.join('\n') + '\n' + (costs.length > 0 ? '\n' + bodyCostMarkdown(costs, 'thousands of instructions per request') : '')
}

// Run as a script, not when a test imports the table.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  })
}
