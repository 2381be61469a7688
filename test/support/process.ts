/**
 * The gateway as a separate process (dist build), for tests that measure or signal it:
 * RSS, SIGTERM, kill -9, several replicas.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { assertDistFresh } from './dist-fresh.js'
import { eventually, START_DEADLINE_MS } from './eventually.js'
import { takeChild } from './signals.js'

export const MAIN = 'dist/src/main.js'

export interface GatewayProcess {
  child: ChildProcess
  url: string
  /** Lines the process printed (stdout and stderr). */
  output: string[]
  /** Settles once its output was read to the end: every process holding its pipes (workers too) exited. */
  ended: Promise<unknown>
  /** Its JSON log lines so far (from output line `from`), parsed (once each, frozen: logEntriesOf). */
  logEntries(from?: number): Record<string, unknown>[]
  /** Resident set size and its peak, in bytes, from /proc. */
  memory(): { rss: number; peak: number }
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Spawns `mtls-gateway serve --config <file>` and waits for its "listening" line. */
export async function spawnGateway(configFile: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, launcher: string[] = [], main = MAIN): Promise<GatewayProcess> {
  assertDistFresh()
  // `launcher` runs node through another command (e.g. prlimit for a low descriptor limit);
  // `main` another build's entry point (an earlier release's, beside this one on one store).
  const command = [...launcher, process.execPath, main, 'serve', '--config', configFile, ...args]
  const child = spawn(command[0] as string, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  takeChild(child) // its primary's pid: a signal by number reaches it only while it runs
  const output: string[] = []
  const outputEnded = new Promise((resolve) => child.once('close', resolve))
  // 'exit' may come before the last lines are read from the pipes (and workers share them): wait
  // for their end too, but not forever (an orphaned worker may hold them a while).
  const outputRead = (): Promise<unknown> => Promise.race([outputEnded, new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in ${START_DEADLINE_MS} ms:\n${output.join('\n')}`)), START_DEADLINE_MS)
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        output.push(line)
        const m = /"msg":"listening".*"url":"([^"]+)"/.exec(line)
        if (m) {
          clearTimeout(timer)
          resolve(m[1] as string)
        }
      })
    }
    child.once('exit', (code) => {
      clearTimeout(timer)
      // The error carries every line it wrote (what made it exit is often the last, on stderr).
      void outputRead().then(() => reject(new Error(`gateway exited with ${code}:\n${output.join('\n')}`)))
    })
  })
  return {
    child,
    url,
    output,
    ended: outputEnded,
    logEntries: logEntriesOf(output),
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
      return { rss: kb('VmRSS'), peak: kb('VmHWM') }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve)
          child.kill(signal)
        })
      }
      await outputRead()
      return child.exitCode
    },
  }
}

/**
 * `logEntries` over a process's output lines: the JSON log lines from output line `from` on (as
 * `output.slice(from)` counts), each line parsed once. Tests poll it (eventually(), entriesWhen)
 * while the output grows into thousands of lines: parsing them all on every poll was work that grew
 * with each poll. Kept by output index with the line it came from (a line replaced is parsed again);
 * a line that does not parse is not kept and throws again on the next call, as before. Frozen: one
 * reader cannot change what the next reads (test/ops/helpers.ts's access() does the same).
 */
export function logEntriesOf(output: readonly string[]): (from?: number) => Record<string, unknown>[] {
  const parsed: ({ line: string; entry: Readonly<Record<string, unknown>> | null } | undefined)[] = []
  return (from = 0) => {
    const entries: Record<string, unknown>[] = []
    for (let i = from < 0 ? Math.max(0, output.length + from) : from; i < output.length; i++) {
      const line = output[i] as string
      let p = parsed[i]
      if (p?.line !== line) parsed[i] = p = { line, entry: line.startsWith('{"level"') ? Object.freeze(JSON.parse(line) as Record<string, unknown>) : null }
      if (p.entry !== null) entries.push(p.entry)
    }
    return entries
  }
}

/**
 * The admin listener's URL from the process's "admin listening" line. With `--workers` the
 * primary prints it once every worker listens; the default wait leaves room for a loaded
 * 2-core machine (a shorter one failed a start there once).
 */
export async function adminUrlOf(gp: GatewayProcess, timeoutMs = START_DEADLINE_MS): Promise<string> {
  const line = await eventually(() => gp.output.find((l) => l.includes('"admin listening"')), timeoutMs, 'the admin line')
  return (JSON.parse(line) as { url: string }).url
}

/** The exit code once the process exited and its output was read to the end ('exit' may come before the last lines). */
export function exitedOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('close', (code) => resolve(code)))
}

/** Gateways a suite starts and stops in turn: each start remembered until its stop, the rest killed by `killAll` (afterAll). */
export interface GatewaySet {
  start(...args: Parameters<typeof spawnGateway>): Promise<GatewayProcess>
  stop(g: GatewayProcess): Promise<void>
  killAll(): Promise<void>
}

export function gatewaySet(): GatewaySet {
  const running = new Set<GatewayProcess>()
  return {
    async start(...args) {
      const g = await spawnGateway(...args)
      running.add(g)
      return g
    },
    async stop(g) {
      await g.stop()
      running.delete(g)
    },
    async killAll() {
      for (const g of running) await g.stop('SIGKILL')
      running.clear()
    },
  }
}
