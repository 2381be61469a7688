/**
 * The processes under test: spawned on 127.0.0.1 in their own process group (stop() takes
 * down whatever they forked), output into a file in the run's temp dir, and measured from
 * /proc: CPU time (schedstat, all threads) and resident memory (VmRSS, VmHWM).
 */
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { openSync, closeSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'

/** Ports never taken, even when the kernel offers them. */
const RESERVED = new Set([80, 443, 1883, 3306, 4222, 5432, 5672, 6379, 8080, 9090])

/** Every port freePort() has handed out in this process: the kernel may offer a closed one again. */
const handedOut = new Set<number>()

/**
 * A port that was free a moment ago (listen on 0, read it, close), never one this process was
 * given before: two ports asked for one after the other (an nginx's TLS and status listeners)
 * were once the same, and nginx merged them into one TLS listener.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.once('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address()
        const p = typeof addr === 'object' && addr ? addr.port : 0
        srv.close(() => resolve(p))
      })
    })
    if (port > 1024 && !RESERVED.has(port) && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
}

/** True once 127.0.0.1:port accepts TCP connections. */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU time of a process (all its threads, user + system) in microseconds; `mainThread`: its main
 * thread only. Both from schedstat (nanoseconds on a CPU), summed over the threads for the whole
 * process: stat's clock ticks (10 ms) read 0 for a short window on a loaded machine (a smoke run's
 * 150 ms window of the floor once read 0 ticks, its cost per request 0 and the gateway's ratio to it
 * Infinity). A thread that ends takes its time with it; the processes measured here keep theirs
 * (libuv's pool and V8's platform threads live as long as the process). Without schedstat
 * (CONFIG_SCHED_INFO off), stat's ticks.
 */
export function cpuMicros(pid: number, mainThread = false): number {
  const onCpuNs = mainThread ? schedstatNs(pid, pid) : threadsNs(pid)
  if (onCpuNs !== undefined) return onCpuNs / 1000
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1e6) / CLK_TCK
}

/** The on-CPU nanoseconds of every thread of `pid` (one that ends meanwhile counts 0). */
function threadsNs(pid: number): number | undefined {
  if (schedstatNs(pid, pid) === undefined) return undefined
  let sum = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) sum += schedstatNs(pid, Number(tid)) ?? 0
  return sum
}

// A kernel without schedstat (CONFIG_SCHED_INFO off) has no such file; an ended thread has none either.
function schedstatNs(pid: number, tid: number): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    return Number.isFinite(ns) ? ns : undefined
  } catch {
    return undefined
  }
}

/** Resident set size now and its peak (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

export interface Proc {
  readonly name: string
  readonly pid: number
  /** Everything the process wrote so far (stdout + stderr file). */
  output(): string
  stop(): Promise<void>
}

export interface ProcSpec {
  name: string
  command: string
  args: string[]
  cwd: string
  /** Ready when this port accepts, and (when given) this appears in the output. */
  port: number
  readyLine?: RegExp
  timeoutMs?: number
  /** CPU list for taskset (e.g. "1"); the process keeps its pid (taskset execs it). */
  cpus?: string
}

/** Pins this process (the load generator) to a CPU list; false when taskset is unavailable. */
export function pinSelf(cpus: string): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Every child a bench driver started and has not seen exit, each the leader of its own process group
 * (spawnTracked), with the promise of its exit. The 'exit' hook kills what is left; a signal
 * (SIGTERM, SIGINT, SIGHUP: pkill, Ctrl-C, a closed terminal) runs no 'exit' hook by default, so
 * the first child started installs handlers that stop every child, then exit with 128 + the signal's
 * number. Detached children are in no terminal's process group: nothing else would stop them.
 */
const running = new Map<ChildProcess, Promise<void>>()
process.once('exit', () => {
  for (const c of running.keys()) killGroup(c, 'SIGKILL')
})

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const
let signalsWatched = false
let stopping = false

function onStopSignal(signal: NodeJS.Signals): void {
  const code = 128 + constants.signals[signal]
  // A second signal while the children stop: no more waiting (the 'exit' hook sends SIGKILL).
  if (stopping) process.exit(code)
  stopping = true
  process.exitCode = code
  void Promise.allSettled([...running.keys()].map((c) => stopChild(c))).then(() => {
    // After the children: nothing of theirs still writes there.
    for (const d of scratchDirs) rmSync(d, { recursive: true, force: true })
    process.exit(code)
  })
}

/** Run directories (scratchDir) a stop signal removes; a driver's own end removes or keeps its own. */
const scratchDirs = new Set<string>()

/**
 * A temporary directory for one driver run (test keys, configs, logs), removed when a stop signal
 * ends the driver (without it, a signalled run left it behind); `keep` (the driver's --keep option)
 * leaves it there as the driver's normal end does.
 */
export function scratchDir(prefix: string, keep = false): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (!keep) scratchDirs.add(dir)
  return dir
}

function watchSignals(): void {
  if (signalsWatched) return
  signalsWatched = true
  for (const s of STOP_SIGNALS) process.on(s, onStopSignal)
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

/** SIGTERM to the child's group, SIGKILL 3 s later if it is still there; resolves once it exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  killGroup(child, 'SIGTERM')
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000)
  await running.get(child)
  clearTimeout(timer)
}

/**
 * spawn() for a bench driver's children: in a process group of their own (stopping one takes down
 * whatever it forked) and in the registry above, so a signal to the driver stops them too.
 * `exited` resolves on exit, or on 'error' when it could not be spawned.
 */
export function spawnTracked(command: string, args: readonly string[], options: Omit<SpawnOptions, 'detached'>): { child: ChildProcess; exited: Promise<void> } {
  watchSignals()
  const child = spawn(command, args, { ...options, detached: true })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  }).then(() => void running.delete(child))
  running.set(child, exited)
  return { child, exited }
}

/** A tracked child run to its end: its exit status and output (spawnSync's, without blocking the signal handlers). */
export async function runTracked(command: string, args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { child, exited } = spawnTracked(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let [stdout, stderr] = ['', '']
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  // 'close', not the exit: the pipes' last data may follow it.
  const closed = new Promise((resolve) => child.once('close', resolve))
  let failure: Error | undefined
  child.once('error', (e) => (failure = e))
  await exited
  if (failure) throw failure
  await closed
  return { status: child.exitCode, stdout, stderr }
}

/** How many startTogether() starts at once: each start's readiness deadline (20 s) stays far off on a loaded machine. */
export const START_TOGETHER = 3

/**
 * Starts processes side by side, at most START_TOGETHER at once (each start mostly waits on its
 * own process: spawning, loading modules, the 50 ms readiness polls), so a set starts in a
 * fraction of the sum (4 gateways pinned to one CPU at load 8: 4.4-5.2 s together against
 * 8.7-8.9 s one after the other). Every one that did start goes into `into` (the caller's list to
 * stop) before the first failure is thrown; `undefined` stands for a process the run does not need.
 */
export async function startTogether<const T extends readonly ((() => Promise<Proc>) | undefined)[]>(into: Proc[], starts: T): Promise<{ -readonly [K in keyof T]: T[K] extends () => Promise<infer P> ? P : undefined }> {
  const results: PromiseSettledResult<Proc | undefined>[] = starts.map(() => ({ status: 'fulfilled', value: undefined }))
  let next = 0
  const lane = async (): Promise<void> => {
    for (let i = next++; i < starts.length; i = next++) {
      const start = starts[i]
      if (start === undefined) continue
      try {
        const proc = await start()
        into.push(proc)
        results[i] = { status: 'fulfilled', value: proc }
      } catch (e) {
        results[i] = { status: 'rejected', reason: e }
      }
    }
  }
  await Promise.all(Array.from({ length: START_TOGETHER }, lane))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  return results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as { -readonly [K in keyof T]: T[K] extends () => Promise<infer P> ? P : undefined }
}

/** Spawns a process and waits until it serves; throws with its output when it does not. */
export async function startProc(spec: ProcSpec): Promise<Proc> {
  const logFile = join(spec.cwd, `${spec.name}.out`)
  const fd = openSync(logFile, 'w')
  const [command, args] = spec.cpus === undefined ? [spec.command, spec.args] : ['taskset', ['-c', spec.cpus, spec.command, ...spec.args]]
  const { child } = spawnTracked(command, args, { cwd: spec.cwd, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  let failure: Error | undefined
  child.once('error', (e: NodeJS.ErrnoException) => {
    failure = e.code === 'ENOENT' ? new Error(`${spec.command} is not installed (apt-get install -y ${spec.command})`) : e
  })
  const output = (): string => {
    try {
      return readFileSync(logFile, 'utf8')
    } catch {
      return ''
    }
  }
  const proc: Proc = {
    name: spec.name,
    pid: child.pid ?? -1,
    output,
    stop: () => stopChild(child),
  }
  const deadline = Date.now() + (spec.timeoutMs ?? 20_000)
  const alive = (): boolean => failure === undefined && child.exitCode === null && child.signalCode === null
  while (Date.now() < deadline && alive()) {
    if ((!spec.readyLine || spec.readyLine.test(output())) && (await portAccepts(spec.port))) return proc
    await new Promise((r) => setTimeout(r, 50))
  }
  await proc.stop()
  if (failure) throw failure
  throw new Error(`${spec.name} did not start on 127.0.0.1:${spec.port}:\n${output()}`)
}
