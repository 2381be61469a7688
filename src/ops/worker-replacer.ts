/**
 * When the `--workers` primary replaces a worker that exited outside a drain, and what it logs.
 * A crash is counted and backs off while workers keep crashing (crash-backoff.ts). A clean exit of
 * its own (code 0: its own SIGTERM, it drained or had served nothing) is no crash: not counted, and
 * judged once the same backoff is over (a worker that keeps exiting 0 does not spin the CPU): if the
 * primary is stopping by then (a SIGTERM to the whole process group reached the worker before the
 * primary handled its own, or while the primary held its own, starting), the exit was that drain's
 * and nothing is said or replaced; else it is said at warn with its code and replaced. A worker the
 * primary drained on purpose is no crash: the drain was counted when it was decided, and one that
 * served is replaced at once. One killed before it served (its start outlasted a reload) shares the
 * crash backoff: under a reload storm its replacement, started from scratch, may be killed the
 * same way, and without a backoff the primary would fork and kill them as fast as they fork.
 */
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import { nextCrashDelay } from './crash-backoff.js'
import type { WorkerDrainReason } from './worker-counters.js'
import type { StartKill } from './start-window.js'

/** What the replacer needs from the pool. */
export interface WorkerReplacerOptions {
  logger: Logger
  /** `worker_restarts_total`: crashes and kills (not a clean exit of its own). */
  restarts: Counter
  /** Workers that said they listen. */
  serving: Pick<WeakSet<Worker>, 'has'>
  /** Forks a worker now, unless the instance drains by then. */
  fork(): void
  /** The primary drains, or caught the signal to (held while it starts): no replacement is started. */
  stopping(): boolean
}

/** Replaces exited workers: after a crash, or after a drain the primary decided. */
export interface WorkerReplacer {
  /** It exited without the primary's order; `killed`: the primary killed it while it started (its one line is the kill's, with why). */
  exited(w: Worker, code: number, signal: string, killed?: StartKill): void
  drained(w: Worker, reason: WorkerDrainReason, code: number, signal: string, killed?: StartKill): void
  /** The instance drains: replacements still waiting out their backoff are called off, each said. */
  cancel(): void
}

/** Creates the replacer with an empty backoff history. */
export function createWorkerReplacer(o: WorkerReplacerOptions): WorkerReplacer {
  // When workers crashed, or were killed before they served, in the last 30 s.
  const setbacks: number[] = []
  // Replacements waiting out their backoff, by the pid of the worker each replaces: a drain calls them off
  // (`said`: its exit line announced it; a clean exit still being judged announced nothing).
  const waiting = new Map<number | undefined, { timer: NodeJS.Timeout; said: boolean }>()
  const forkIn = (w: Worker, delayMs: number, then = o.fork, said = true): void => {
    if (delayMs === 0) return then()
    const pid = w.process.pid
    waiting.set(pid, { timer: setTimeout(() => (waiting.delete(pid), then()), delayMs), said })
  }
  return {
    exited(w, code, signal, killed) {
      const delay = nextCrashDelay(setbacks)
      if (code === 0 && !signal && !killed) return forkIn(w, delay, () => judgeCleanExit(o, w, code, signal, delay), false)
      o.restarts.inc()
      o.logger.error({ worker: w.process.pid, code, signal, restartInMs: delay, ...(killed && { problem: killed.problem }) }, killed?.msg ?? 'worker exited unexpectedly: replacing it')
      forkIn(w, delay)
    },
    drained(w, reason, code, signal, killed) {
      const delay = o.serving.has(w) ? 0 : nextCrashDelay(setbacks)
      const fields = { worker: w.process.pid, reason, code, signal, restartInMs: delay }
      if (killed) o.logger.error(Object.assign(fields, { problem: killed.problem }), killed.msg)
      else o.logger.warn(fields, 'drained worker exited: replacing it')
      forkIn(w, delay)
    },
    cancel() {
      for (const [worker, { timer, said }] of waiting) {
        clearTimeout(timer)
        // Its exit line promised a replacement in restartInMs: say that none comes.
        if (said) o.logger.warn({ worker }, 'replacement cancelled: the instance is draining')
      }
      waiting.clear()
    },
  }
}

/** A clean exit, its backoff over: the drain's when the primary stops by then (nothing said or forked), else said and replaced. */
function judgeCleanExit(o: WorkerReplacerOptions, w: Worker, code: number, signal: string, waitedMs: number): void {
  if (o.stopping()) return
  o.logger.warn({ worker: w.process.pid, code, signal, waitedMs }, 'worker exited on its own (code 0): replacing it')
  o.fork()
}
