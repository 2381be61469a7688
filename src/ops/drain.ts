/**
 * Graceful drain on SIGTERM: stop accepting, let in-flight requests finish within the grace
 * period, close pools, exit 0. A second signal, or the end of the grace period with connections
 * still open, ends the requests still running (each its 503 where nothing was sent, else its
 * connection cut, and each its access line) and exits 1; closing after the drain (pools, the span
 * flush) is bounded by what is left of the grace period and never turns a clean drain into exit 1.
 * Kubernetes sends SIGTERM and removes the pod from the Service concurrently, so /readyz turns 503 as soon as draining begins.
 */
import type { Server } from 'node:http'
import type { Logger } from 'pino'
import { GatewayError } from '../errors.js'
import type { LaneEnd } from '../proxy/pipelined.js'
import { endPartialRequestsBy } from '../proxy/request-progress.js'
import { timerDelay } from './timer-delay.js'

/** What drain stops, waits for and calls. */
export interface DrainOptions {
  server: Server
  /** Read when draining begins, so a reload can change it. */
  graceMs(): number
  /** Requests still running, for the log lines. */
  inFlight(): number
  /**
   * Everything after the listener: admin, watchers, pools, the span flush. `budgetMs`: what is
   * left of the grace period less EXIT_RESERVE_MS; work that may hang (a collector that never
   * answers) must end within it, so a drain that let every request finish exits 0.
   */
  close(budgetMs: number): Promise<void>
  /** Ends the requests still running (`why` the drain ended first), each with its answer or cut and its access line; settles soon (bounded). */
  endInFlight(why: string): Promise<void>
  log: Logger
  exit(code: number): void
}

/**
 * What a drain that ended (`why`) ends the requests still running with, those pipelined behind
 * them, and any arriving before the connections close: never started, they are ended by the drain
 * too (their connection closes), not by their callers.
 */
export function drainEnded(why: string): { running: GatewayError; notStarted: LaneEnd } {
  const shutting = `the gateway is shutting down: ${why}`
  return {
    running: new GatewayError('drain_ended', `${shutting} before this request was answered (its upstream may have received it)`),
    notStarted: {
      waiting: new GatewayError('drain_ended', `${shutting} while this request waited its turn behind another on its connection (never started: not sent upstream)`),
      arriving: new GatewayError('drain_ended', `${shutting} as this request arrived (never started: not sent upstream)`),
    },
  }
}

/** The drain controller of one listener. */
export interface Drain {
  readonly draining: boolean
  /**
   * First call drains; a second call of the same kind exits at once. A call with `graceMs` is a
   * `--workers` primary's order (the instance's grace, not this process's snapshot's, which may
   * hold a reload not yet accepted); one without is the process's own (its signal). A worker gets
   * both when its whole process group is signalled (systemd's KillMode=control-group): the first
   * of each kind is one drain, with the primary's grace, whichever came first.
   */
  begin(trigger: string, graceMs?: number): void
}

// Keep-alive connections become idle when their response ends; closing them lets server.close finish.
const SWEEP_MS = 100
/** Of the grace period, what close() leaves for writing the last log lines and exiting. */
export const EXIT_RESERVE_MS = 1000

/** A drain's timing: when it began, the grace in force, whether every connection has closed. */
interface DrainClock {
  startedAt: number
  graceMs: number
  /** Set once every connection has closed: the drain itself succeeded, only closing remains. */
  drained: boolean
  /** Set when the drain ended requests still running (its grace ran out, a second signal): it exits 1. */
  cut: boolean
  timer?: NodeJS.Timeout
}

/** Creates the drain controller of one listener. */
export function createDrain(o: DrainOptions): Drain {
  let draining = false
  // Which kinds of call began or joined the drain: the process's own (a signal) and the primary's order.
  const seen = { own: false, primary: false }
  const clock: DrainClock = { startedAt: 0, graceMs: 0, drained: false, cut: false }
  const { exit, cut } = drainExits(o, clock)
  const arm = (graceMs: number): void => {
    clearTimeout(clock.timer)
    clock.graceMs = graceMs
    clock.timer = armGrace(o, clock, exit, cut)
    // A request still partly received then was never handed over: it holds the drain no longer.
    endPartialRequestsBy(o.server, performance.now() + clock.startedAt + graceMs - EXIT_RESERVE_MS - Date.now())
  }
  return {
    get draining() {
      return draining
    },
    begin(trigger, given) {
      const kind = given === undefined ? 'own' : 'primary'
      const again = seen[kind]
      seen[kind] = true
      if (draining) return joinDrain(o, trigger, again ? 'again' : given, cut, arm)
      draining = true
      clock.startedAt = Date.now()
      const graceMs = given ?? o.graceMs()
      o.log.info({ trigger, inFlight: o.inFlight(), graceMs }, 'draining: no new connections, waiting for in-flight requests')
      arm(graceMs)
      closeServer(o, clock, () => {
        clearTimeout(clock.timer)
        exit(0)
      })
    },
  }
}

/** The drain's one exit (the first call wins), and its cut: end the requests still running, then exit 1. */
function drainExits(o: DrainOptions, clock: DrainClock): { exit: (code: number) => void; cut: (why: string) => void } {
  let exited = false
  const exit = (code: number): void => {
    if (exited) return
    exited = true
    o.exit(code)
  }
  const cut = (why: string): void => {
    if (clock.cut) return
    clock.cut = true
    clearTimeout(clock.timer)
    void o.endInFlight(why).finally(() => exit(1))
  }
  return { exit, cut }
}

/**
 * A call while draining: the first of its kind joins the drain (the primary's order sets the
 * grace), a second of one kind (`again`) exits at once.
 */
function joinDrain(o: DrainOptions, trigger: string, given: number | undefined | 'again', cut: (why: string) => void, arm: (graceMs: number) => void): void {
  if (given === 'again') {
    o.log.warn({ trigger, inFlight: o.inFlight() }, 'second signal while draining: exiting now')
    return cut('a second signal ended its drain')
  }
  if (given === undefined) return o.log.info({ trigger, inFlight: o.inFlight() }, 'own signal while the primary drains this worker: one drain')
  o.log.info({ trigger, graceMs: given }, 'drain grace set by the primary')
  arm(given)
}

/**
 * Stops accepting, closes idle connections as they become idle, then everything after the
 * listener within what is left of the grace (less EXIT_RESERVE_MS); `done` once all closed.
 */
function closeServer(o: DrainOptions, clock: DrainClock, done: () => void): void {
  // Closed while its listen() is pending, a server binds all the same and serves: closed once bound.
  // A listen that fails is the start's failure, which says why and ends the process: nothing to drain.
  if (!o.server.listening) return whenBound(o.server, () => closeServer(o, clock, done), () => clearTimeout(clock.timer))
  const sweep = setInterval(() => o.server.closeIdleConnections(), SWEEP_MS)
  o.server.close(() => {
    clock.drained = true
    clearInterval(sweep)
    // Ending the requests still running closed their connections: that exit (1) is the cut's.
    if (clock.cut) return
    o.close(Math.max(0, clock.startedAt + clock.graceMs - Date.now() - EXIT_RESERVE_MS))
      .catch((e: unknown) => o.log.error({ err: e }, 'error while closing after drain'))
      .finally(() => {
        o.log.info('drained: exiting')
        done()
      })
  })
  o.server.closeIdleConnections()
}

/** Calls `bound` once `server` listens, or `failed` if its listen() fails. */
function whenBound(server: Server, bound: () => void, failed: () => void): void {
  const onListening = (): void => void (server.off('error', onError), bound())
  const onError = (): void => void (server.off('listening', onListening), failed())
  server.once('listening', onListening).once('error', onError)
}

/**
 * The grace timer, counted from the drain's start. At its end: the requests still running are
 * ended and the process exits 1, else 0 (only a step of closing outlived it; nothing was cut).
 */
function armGrace(o: DrainOptions, clock: DrainClock, exit: (code: number) => void, cut: (why: string) => void): NodeJS.Timeout {
  const { graceMs } = clock
  const timer = setTimeout(() => {
    if (!clock.drained) {
      o.log.warn({ inFlight: o.inFlight(), graceMs }, 'grace period over: exiting with requests in flight')
      return cut(`drain.grace (${graceMs / 1000} s) ran out`)
    }
    // Nothing was cut: a step of closing that outlived its budget is said, not reported as a failed rollout.
    o.log.warn({ graceMs }, 'grace period over while closing after the drain (no request was in flight): exiting')
    exit(0)
  }, timerDelay(clock.startedAt + graceMs - Date.now()))
  timer.unref()
  return timer
}
