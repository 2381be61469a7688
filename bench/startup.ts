/**
 * `node dist/bench/startup.js <config.yaml> <workers> <rounds> <main.js>[,<main.js>…]`: what a
 * `serve` start costs until its "listening" line, for each build's dist/src/main.js given, rounds
 * interleaved (the order reversed every other round). Per round: the wall time from spawn to the
 * line, the CPU (user + sys, /proc/<pid>/stat) of the process that prints it (with `--workers N`,
 * the primary's own), and the mean CPU of its workers STARTUP_SETTLE_MS (default 1500) later,
 * when they have settled. Prints the medians and every round, one JSON line per build.
 * How docs/performance.md's session 28 measured `serve --workers 1` and `--workers 2`.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { spawnTracked } from './procs.js'

interface Round {
  wall: number
  own: number
  workers: number
}

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
const SETTLE_MS = Number(process.env.STARTUP_SETTLE_MS ?? 1500)

/** utime + stime of one process, in seconds. */
function cpuOf(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICK
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number)
  } catch {
    return [] // pgrep exits 1 when there are none
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] ?? NaN

/** One start of `main`: spawned, read until "listening", measured, killed with its workers. */
async function startOnce(main: string, config: string, workers: string): Promise<Round> {
  const t0 = performance.now()
  const { child } = spawnTracked(process.execPath, [main, 'serve', '--config', config, '--workers', workers], { stdio: ['ignore', 'pipe', 'inherit'] })
  const closed = new Promise((resolve) => child.once('close', resolve))
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as Readable }).on('line', (l) => l.includes('"msg":"listening"') && resolve())
    child.once('exit', (code) => reject(new Error(`${main} exited with ${code} before listening`)))
  })
  const wall = (performance.now() - t0) / 1000
  const pid = child.pid as number
  const own = cpuOf(pid)
  if (workers !== '1') await new Promise((r) => setTimeout(r, SETTLE_MS))
  const children = childrenOf(pid)
  const cpus = children.map(cpuOf)
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      // a worker may already have left with its primary
    }
  }
  await closed
  return { wall, own, workers: cpus.length > 0 ? cpus.reduce((a, b) => a + b) / cpus.length : 0 }
}

const [config, workers, rounds, mains] = process.argv.slice(2)
if (!config || !workers || !rounds || !mains) throw new Error('usage: startup.js <config.yaml> <workers> <rounds> <main.js>[,<main.js>…]')
const builds = mains.split(',')
const results = new Map<string, Round[]>(builds.map((b) => [b, []]))
for (let i = 0; i < Number(rounds); i++) {
  for (const main of i % 2 ? [...builds].reverse() : builds) {
    results.get(main)?.push(await startOnce(main, config, workers))
    await new Promise((r) => setTimeout(r, 300))
  }
}
for (const [main, rs] of results) {
  const show = (xs: number[], digits: number): string => median(xs).toFixed(digits)
  process.stdout.write(JSON.stringify({ main, workers: Number(workers), wallS: show(rs.map((r) => r.wall), 3), cpuS: show(rs.map((r) => r.own), 2), workerCpuS: show(rs.map((r) => r.workers), 2), rounds: rs.map((r) => `${r.wall.toFixed(2)}/${r.own.toFixed(2)}/${r.workers.toFixed(2)}`) }) + '\n')
}
