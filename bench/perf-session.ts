/**
 * One `perf record` (Linux perf, sampling cpu-clock at 999 Hz) attached once to every thread of
 * several processes, its events off until a window turns them on: the windows of bench/perf-split.ts
 * share one attach and one `perf script`, each of which costs a second or two on a loaded machine
 * (mostly loading the node binary's symbols), and are told apart afterwards by pid and time.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { spawnTracked } from './procs.js'

/** How long perf may take to attach and answer (a loaded 2-core machine took seconds). */
const PERF_ATTACH_MS = 30_000

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

export interface PerfSession {
  /** Runs `during` with sampling on; its result and when it ran (µs of CLOCK_MONOTONIC, as process.hrtime). */
  window<T>(during: () => Promise<T>): Promise<{ result: T; fromUs: number; toUs: number }>
  /** Stops perf; what `perf script -F pid,tid,time,ip,sym,dso` printed ('' when perf wrote nothing). */
  stop(): Promise<string>
}

/**
 * Sends perf a command on its control fd and resolves once perf has answered it (one "ack" line per
 * command, in order); rejects when perf exits first or takes longer than PERF_ATTACH_MS.
 */
function controlOf(perf: ChildProcess, exited: Promise<unknown>, who: string): (what: 'enable' | 'disable') => Promise<void> {
  const control = perf.stdio[3] as NodeJS.WritableStream
  const acks = perf.stdio[4] as NodeJS.ReadableStream
  let [sent, answered] = [0, 0]
  const waiting = new Map<number, () => void>()
  acks.setEncoding('utf8')
  acks.on('data', (c: string) => {
    answered += c.split('\n').length - 1
    for (const [n, resolve] of waiting) if (n <= answered) resolve()
  })
  return (what) =>
    new Promise<void>((resolve, reject) => {
      const n = ++sent
      const settle = (error?: Error): void => {
        clearTimeout(timer)
        waiting.delete(n)
        if (error) reject(error)
        else resolve()
      }
      const timer = setTimeout(() => settle(new Error(`perf record -p ${who} did not answer "${what}" within ${PERF_ATTACH_MS} ms`)), PERF_ATTACH_MS)
      waiting.set(n, () => settle())
      // Exited, or could not be spawned at all ('error', which rejects `exited`): no window.
      const gone = (): void => settle(new Error(`perf record -p ${who} exited before sampling`))
      exited.then(gone, gone)
      control.write(`${what}\n`)
    })
}

/**
 * Attaches perf to `pids` with its events off (`--delay=-1`) and timestamps on CLOCK_MONOTONIC
 * (`-k`). Each window turns sampling on and waits for perf's answer before it starts, so a window
 * begins only once sampling is on, however long perf took to attach (a fixed 300 ms wait once
 * left two windows of a loaded machine's smoke run without a sample), and turns it off after.
 */
export function startPerf(pids: readonly number[], file: string): PerfSession {
  const { child: perf } = spawnTracked('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '999', '-k', 'CLOCK_MONOTONIC', '-p', pids.join(','), '-o', file, '--delay=-1', '--control=fd:3,4'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] })
  const exited = once(perf, 'exit')
  const command = controlOf(perf, exited, pids.join(','))
  return {
    async window(during) {
      await command('enable')
      const fromUs = nowUs()
      const result = await during()
      const toUs = nowUs()
      await command('disable')
      return { result, fromUs, toUs }
    },
    async stop() {
      perf.kill('SIGINT')
      await exited.catch(() => undefined)
      try {
        return execFileSync('perf', ['script', '-i', file, '-F', 'pid,tid,time,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] })
      } catch {
        // perf wrote nothing (the processes were gone): no samples, and the windows are left out.
        return ''
      }
    },
  }
}
