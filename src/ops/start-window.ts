/**
 * The `--workers` primary's guard over starting workers. A worker has no timer of its own while
 * it starts (it waits for its config texts as long as the primary's reload in progress takes), so one stuck
 * in its start (a hung listen(), a stopped process) would hold the instance's start, or a
 * replacement's place, for ever: the primary kills one that does not start within its window,
 * and the pool replaces it as a crashed one (at the instance's start, the start fails; while the
 * instance drains, nothing replaces it). The line of its exit (one for the kill and the exit) says which.
 */
import cluster, { type Worker } from 'node:cluster'
import { timerDelay } from './timer-delay.js'
import { isMessage, type WorkerMessage } from './worker-link.js'

/** What a start may take besides building a config (`--reload-timeout`): booting node and loading its modules, on a slow or throttled CPU. */
const BOOT_MS = 30_000

/** A worker's start window: from its fork to asking for its config, and again from being handed it to listening. */
export function startWindowMs(reloadTimeoutMs: number): number {
  return BOOT_MS + reloadTimeoutMs
}

/** The start windows of every worker forked from now on. */
export interface StartWindows {
  /** The primary holds `w`'s start until `texts` settles (the reload in progress): its window pauses meanwhile, and begins again then. */
  hold<T>(w: Worker, texts: Promise<T>): Promise<T>
}

type Listening = WorkerMessage & { type: 'mtls-gateway:listening' }

/** What follows a kill: the pool replaces the worker (the instance serves), the instance's start fails, or nothing (the instance drains). */
export type StartKillOutcome = 'replaced' | 'start_fails' | 'not_replaced'

const KILL_LINES: Readonly<Record<StartKillOutcome, string>> = {
  replaced: 'worker still starting: killing it to replace it',
  start_fails: "worker still starting: killing it, and the instance's start fails",
  not_replaced: 'worker still starting while the instance drains: killing it, and nothing replaces it',
}

/** Why the primary killed a worker still starting: the one line its exit is logged with (`msg`, saying what follows). */
export interface StartKill {
  msg: string
  problem: string
}

/** Watches every worker forked from now on; `kill`s one still starting at the end of its window, saying what `outcome()` then follows. */
export function watchStartWindows(windowMs: number, kill: (w: Worker, why: StartKill) => void, outcome: () => StartKillOutcome): StartWindows {
  const timers = new Map<Worker, NodeJS.Timeout>()
  // Workers that said they listen: a config request still held for one (it asked twice) opens no window again.
  const listening = new WeakSet<Worker>()
  const done = (w: Worker): void => {
    clearTimeout(timers.get(w))
    timers.delete(w)
  }
  const watch = (w: Worker): void => {
    // One window per worker: a second one would outlive the first's end and kill a serving worker.
    done(w)
    if (listening.has(w)) return
    const timer = setTimeout(() => {
      timers.delete(w)
      kill(w, { msg: KILL_LINES[outcome()], problem: `it did not start within ${windowMs} ms` })
    }, timerDelay(windowMs))
    timers.set(w, timer.unref())
  }
  cluster.on('fork', watch)
  cluster.on('exit', done)
  cluster.on('message', (w: Worker, m: unknown) => {
    if (!isMessage<Listening>(m, 'mtls-gateway:listening')) return
    listening.add(w)
    done(w)
  })
  return {
    async hold(w, texts) {
      done(w)
      try {
        return await texts
      } finally {
        if (!w.isDead()) watch(w)
      }
    },
  }
}
