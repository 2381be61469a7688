/**
 * The `--workers` primary's workers: forked at the start (the instance serves once all of them
 * listen), replaced when one exits unexpectedly or after the primary drained it on purpose
 * (worker-replacer.ts), and drained on a signal (the primary exits when the last is gone, or kills them after the grace).
 */
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Counter, Registry } from 'prom-client'
import { createWorkerCounters, type WorkerDrainReason } from './worker-counters.js'
import { isMessage, type PrimaryMessage, type WorkerMessage } from './worker-link.js'
import { WorkerStartFailure } from '../process/index.js'
import { timerDelay } from './timer-delay.js'
import { isSignalHeld } from './signals.js'
import { createWorkerReplacer, type WorkerReplacer } from './worker-replacer.js'
import type { StartKill, StartKillOutcome } from './start-window.js'

type Listening = WorkerMessage & { type: 'mtls-gateway:listening' }
type StartFailed = WorkerMessage & { type: 'mtls-gateway:start-failed' }
const KILL_MARGIN_MS = 5000

/** What the pool needs from the primary. */
export interface WorkerPoolOptions {
  /** How many workers serve. */
  size: number
  /** Where `worker_restarts_total` and `worker_drains_total` are counted. */
  registry: Registry
  logger: Logger
  /** Called first for every worker that exited. */
  onExit(worker: Worker): void
  /** The drain grace period in force (drain.graceMs): workers alive after it (and a margin) are killed. */
  graceMs(): number
  /** Stops what the primary runs besides its workers, once every worker has exited after a drain. */
  close(): Promise<void>
  exit(code: number): void
}

/** The workers of one primary; nothing is forked before `start`. */
export class WorkerPool {
  readonly #o: WorkerPoolOptions
  readonly #replacer: WorkerReplacer
  readonly #drains: Counter<'reason'>
  readonly #live = new Set<Worker>()
  readonly #serving = new WeakSet<Worker>()
  /** Workers sent SIGTERM to drain: a second one would make them exit at once, cutting their requests. */
  readonly #toldToDrain = new WeakSet<Worker>()
  /** Workers the primary drained on purpose, with why: their exit is no crash. */
  readonly #drained = new WeakMap<Worker, WorkerDrainReason>()
  /** Workers the primary killed while they started, with why: their exit's line is the kill's. */
  readonly #killed = new WeakMap<Worker, StartKill>()
  #started = false
  #draining = false
  #cutShort = false

  constructor(o: WorkerPoolOptions) {
    this.#o = o
    const { restarts, drains } = createWorkerCounters([o.registry])
    this.#drains = drains
    // Stopping: draining, or (once started) holding the SIGTERM/SIGINT that will drain it as soon as it serves.
    const stopping = (): boolean => this.#draining || (this.#started && isSignalHeld(['SIGTERM', 'SIGINT']))
    this.#replacer = createWorkerReplacer({ logger: o.logger, restarts, serving: this.#serving, stopping, fork: () => void (stopping() || this.#fork()) })
  }

  /** Forked and not exited yet: our own set, as cluster.workers may still list a worker after its exit event. */
  get live(): ReadonlySet<Worker> {
    return this.#live
  }

  /** Workers that said they listen: readiness asks only these, not a replacement still starting (or failing to). */
  get serving(): Pick<WeakSet<Worker>, 'has'> {
    return this.#serving
  }

  /** What follows when a starting worker is killed now: its replacement, the start's failure, or nothing (a drain). */
  get startKillOutcome(): StartKillOutcome {
    return this.#draining ? 'not_replaced' : this.#started ? 'replaced' : 'start_fails'
  }

  /** True once a drain began. */
  get draining(): boolean {
    return this.#draining
  }

  /** Forks the workers; how the last of them bound (its URL, its address, a fallback) once all listen. Rejects, every worker killed, when one exits first. */
  async start(): Promise<Listening> {
    cluster.on('message', (w: Worker, m: unknown) => this.#follow(w, m))
    const binding = await new Promise<Listening>((resolve, reject) => {
      let failure: string | undefined
      const onMessage = (_w: Worker, m: unknown): void => {
        if (isMessage<StartFailed>(m, 'mtls-gateway:start-failed')) failure ??= m.line
        if (isMessage<Listening>(m, 'mtls-gateway:listening') && [...this.#live].filter((w) => this.#serving.has(w)).length === this.#o.size) {
          cluster.off('message', onMessage)
          resolve(m)
        }
      }
      cluster.on('message', onMessage)
      cluster.on('exit', (w, code, signal) => {
        this.#live.delete(w)
        this.#o.onExit(w)
        const killed = this.#killed.get(w)
        // A clean exit is a worker told to stop (its SIGTERM; a failed start exits 1): replaced, and the start waits for every live one to serve.
        if (!this.#started && code === 0 && !signal && !killed) return this.#replacer.exited(w, code, signal)
        // The worker's own reason (a port in use…) is the one line; it did not print it. A kill's line says why.
        if (!this.#started) return void (killed && this.#o.logger.error({ worker: w.process.pid, code, signal, problem: killed.problem }, killed.msg), reject(failure !== undefined ? new WorkerStartFailure(failure) : new Error(`worker ${w.process.pid} exited while starting (code ${code}, signal ${signal})`)))
        if (this.#draining) return this.#exitedWhileDraining(w, code, signal, killed)
        const reason = this.#drained.get(w)
        if (reason !== undefined) return this.#replacer.drained(w, reason, code, signal, killed)
        this.#replacer.exited(w, code, signal, killed)
      })
      for (let i = 0; i < this.#o.size; i++) this.#fork()
    }).catch((e: unknown) => {
      for (const w of this.#live) w.process.kill('SIGKILL')
      throw e
    })
    this.#started = true
    return binding
  }

  /** SIGTERM to every worker; the primary exits when the last has, or kills them after the grace period. A second signal exits at once. */
  drain(signal: NodeJS.Signals): void {
    if (this.#draining) {
      // A second order of the kind each worker had (a worker takes its own signal and the primary's order as one drain).
      for (const w of this.#live) this.#order(w)
      this.#o.logger.warn({ signal }, 'second signal while draining: exiting now')
      return this.#o.exit(1)
    }
    for (const w of this.#live) this.drainWorker(w)
    this.#draining = true
    this.#replacer.cancel()
    this.#o.logger.info({ signal, workers: this.#live.size }, 'draining every worker')
    setTimeout(() => {
      for (const w of this.#live) w.process.kill('SIGKILL')
      this.#o.exit(1)
    }, timerDelay(this.#o.graceMs() + KILL_MARGIN_MS)).unref()
    if (this.#live.size === 0) void this.#finish()
  }

  /** Drains one worker unless told already (a reload left it, or the instance drains); with a reason, on purpose: counted, replaced at once at its exit. */
  drainWorker(w: Worker, reason?: WorkerDrainReason): void {
    if (reason !== undefined) this.#onPurpose(w, reason)
    if (this.#toldToDrain.has(w)) return
    this.#toldToDrain.add(w)
    this.#order(w)
  }

  /**
   * A serving worker is told over IPC with the grace in force on the instance (the accepted config's), not the
   * one its own snapshot holds (a reload it built may not be accepted yet); one that does not serve yet is signalled.
   */
  #order(w: Worker): void {
    if (!this.#serving.has(w) || !w.isConnected()) return void w.process.kill('SIGTERM')
    w.send({ type: 'mtls-gateway:drain', graceMs: this.#o.graceMs() } satisfies PrimaryMessage, undefined, (err) => void (err && w.process.kill('SIGTERM')))
  }

  /** Kills a worker still starting (nothing served, nothing cut), its one line (`why`) written at its exit; `reason`: on purpose, else a crash. */
  killStarting(w: Worker, reason: WorkerDrainReason | undefined, why: StartKill): void {
    if (reason !== undefined) this.#onPurpose(w, reason)
    this.#toldToDrain.add(w)
    this.#killed.set(w, why)
    w.process.kill('SIGKILL')
  }

  #onPurpose(w: Worker, reason: WorkerDrainReason): void {
    if (this.#drained.has(w)) return
    this.#drained.set(w, reason)
    this.#drains.inc({ reason })
  }

  #fork(): void {
    // A send to a worker that just exited (node:cluster answering its listen) fails with EPIPE, emitted on the Worker: unheard, it ended the primary.
    this.#live.add(cluster.fork().on('error', () => {}))
  }

  /** Every worker message, from the start on: who serves, and (after the start) how a replacement fares. */
  #follow(w: Worker, m: unknown): void {
    // After the start a replacement's failure is no longer the instance's: log its reason.
    if (this.#started && isMessage<StartFailed>(m, 'mtls-gateway:start-failed')) this.#o.logger.error({ worker: w.process.pid, problem: m.line }, 'a replacement worker could not start')
    // And when it serves: until then the survivors carry the load (readiness asks only serving workers).
    if (isMessage<Listening>(m, 'mtls-gateway:listening')) {
      this.#serving.add(w)
      if (this.#started) this.#o.logger.info({ worker: w.process.pid }, 'replacement worker listening')
    }
  }

  #exitedWhileDraining(w: Worker, code: number, signal: string, killed: StartKill | undefined): void {
    // A drain only asks (SIGTERM, or over IPC): a killed one was killed to be replaced (silent, or slow to start) or died. Its replacement is off.
    if (killed) this.#o.logger.error({ worker: w.process.pid, code, signal, problem: killed.problem }, killed.msg)
    else if (signal === 'SIGKILL') this.#o.logger.warn({ worker: w.process.pid, code, signal }, 'worker killed while the instance drains: nothing replaces it')
    // A worker that hit its grace period cut requests: the instance's exit code says so. One that
    // never served (a replacement still starting, which the SIGTERM ends by default) cut nothing.
    if ((code !== 0 || signal) && this.#serving.has(w)) this.#cutShort = true
    if (this.#live.size === 0) void this.#finish()
  }

  async #finish(): Promise<void> {
    await this.#o.close()
    if (this.#cutShort) this.#o.logger.warn('a worker exited before its requests finished: exiting with code 1')
    else this.#o.logger.info('all workers drained: exiting')
    this.#o.exit(this.#cutShort ? 1 : 0)
  }
}
