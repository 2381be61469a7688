/**
 * The cluster primary's watchdog over its workers. A worker whose event loop stops turning (an
 * endless loop, a stopped process) answers nothing yet stays alive: the primary keeps handing it
 * connections, which hang; /readyz fails the whole instance for ever ("no readiness answer"); and
 * /healthz, the primary's own, stays 200, so a liveness probe never restarts the pod. A single
 * process in that state fails its liveness probe and is restarted; here the primary kills such a
 * worker after several unanswered rounds, and the exit handler replaces it as a crashed one.
 */
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Ask } from './worker-link.js'

/** Rounds every 5 s, 5 s to answer, 3 silent rounds in a row: about half a minute of silence is a wedged worker, not a busy one. */
export const WATCHDOG = { intervalMs: 5000, timeoutMs: 5000, misses: 3 } as const

/** Asks every worker `workers()` lists (connected and serving) `alive` each round; kills one silent for `misses` rounds. stop() ends it. */
export function watchWorkers(ask: Ask, workers: () => Worker[], log: Logger, o: { intervalMs: number; timeoutMs: number; misses: number } = WATCHDOG): { stop(): void } {
  const missed = new WeakMap<Worker, number>()
  let asking = false
  const round = async (): Promise<void> => {
    for (const { worker, value } of await ask(workers(), 'alive', o.timeoutMs)) {
      // A worker that left meanwhile is the exit handler's, not ours.
      if (!worker.isConnected()) continue
      const n = value === true ? 0 : (missed.get(worker) ?? 0) + 1
      missed.set(worker, n)
      if (n < o.misses) continue
      missed.delete(worker)
      log.error({ worker: worker.process.pid, silentRounds: n }, 'worker answers nothing: killing it to replace it')
      worker.process.kill('SIGKILL')
    }
  }
  const timer = setInterval(() => {
    // One round at a time: a silent worker makes a round last the whole timeout.
    if (asking) return
    asking = true
    void round().finally(() => {
      asking = false
    })
  }, o.intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
