import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { DEFAULT_DEADLINE_MS, eventually, START_DEADLINE_MS } from '../support/eventually.js'
import { holds, sendSignal, signalGroup, take } from '../support/signals.js'

// A bench driver killed by a signal (pkill -f dist/bench/run.js, Ctrl-C, a closed terminal) stops
// the peers it started (bench/procs.ts): before, they kept running, detached, with nobody to stop them.
assertDistFresh(['src', 'bench'])
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-bench-signals-'))
/** Every process a test started or saw started, killed (with its group) after each test whatever happened. */
const seen = new Set<number>()
const drivers = new Set<ChildProcess>()
afterEach(() => {
  // A test that failed before it signalled: the children its driver has now are taken down too.
  for (const pid of [...seen]) if (holds(pid)) for (const child of childrenOf(pid)) seen.add(take(child, pid))
  for (const d of drivers) signalGroup(d, 'SIGKILL')
  for (const pid of seen) if (!signalGroup(pid, 'SIGKILL')) sendSignal(pid, 'SIGKILL')
  drivers.clear()
  seen.clear()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The pids whose parent is `pid` (from /proc/<pid>/stat; the name in parentheses may hold spaces). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid
    } catch {
      return false // ended meanwhile
    }
  }).map(Number)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A driver in a process group of its own (so afterEach can take down what the old code left), its
 * stderr collected, its temporary directory in this file's TMPDIR.
 */
function driver(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, args, { detached: true, env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] })
  drivers.add(child)
  if (child.pid !== undefined) seen.add(take(child.pid))
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return { child, stderr: () => stderr, exit }
}

/** Sends `signal` to the driver; expects none of `children` to outlive it, and its exit status 128 + the signal's number. */
async function signalAndCheck(d: ReturnType<typeof driver>, children: number[], signal: NodeJS.Signals): Promise<void> {
  sendSignal(d.child, signal)
  const exited = await d.exit
  // A generous bound for a bound's sake: the driver waits for its children before it exits.
  await eventually(() => children.every((pid) => !alive(pid)), 2 * DEFAULT_DEADLINE_MS, 'the children to be gone').catch(() => undefined)
  expect(children.filter(alive), 'still running').toEqual([])
  expect(exited).toEqual({ code: 128 + constants.signals[signal], signal: null })
}

/** The command a process runs (its argv[0]). */
const commandOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? ''

/** The driver's children once `ready` says they are up (fails with its output when it exits first). */
async function childrenOnceUp(d: ReturnType<typeof driver>, ready: () => boolean): Promise<number[]> {
  await eventually(() => ready() || d.child.exitCode !== null, START_DEADLINE_MS, 'the driver to start its children')
  expect(d.child.exitCode, d.stderr()).toBeNull()
  const children = childrenOf(d.child.pid as number)
  for (const pid of children) seen.add(take(pid, d.child.pid))
  return children
}

describe('a bench driver stopped by a signal', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('run.js stops its peers on %s', async (signal) => {
    // The direct path alone (the upstream, nginx and the bare gateway as peers), held in a long prewarm.
    const d = driver(['dist/bench/run.js', '--quick', '--no-pin', '--paths', 'direct', '--bodies', 'empty', '--users', '2', '--prewarm', '600000', '--mint-hosts', '0', '--stages', '0', '--perf', '0', '--out', join(dir, `${signal}.json`)])
    // "prewarm:" comes once every peer serves.
    const children = await childrenOnceUp(d, () => d.stderr().includes('prewarm:'))
    const commands = children.map(commandOf)
    expect(commands.filter((c) => c === 'nginx'), commands.join(', ')).toHaveLength(2)
    // Its run directory (keys, configs, nginx's files), in this file's TMPDIR: removed too (before, left behind).
    const runDirs = readdirSync(dir).filter((name) => name.startsWith('mtlsgw-bench-'))
    expect(runDirs).toHaveLength(1)
    await signalAndCheck(d, children, signal)
    expect(readdirSync(dir).filter((name) => runDirs.includes(name)), 'left behind').toEqual([])
  })

  it.runIf(existsSync('/usr/bin/valgrind'))('unit-counts.js stops its callgrind run on SIGTERM', async () => {
    const d = driver(['dist/bench/unit-counts.js', 'sign'])
    // valgrind's (a script that execs valgrind.bin), not the getconf procs.ts runs as it loads.
    const children = await childrenOnceUp(d, () => childrenOf(d.child.pid as number).some((pid) => commandOf(pid).includes('valgrind')))
    expect(children.map(commandOf).filter((c) => c.includes('valgrind'))).toHaveLength(1)
    await signalAndCheck(d, children, 'SIGTERM')
  })
})
