/**
 * Graceful drain on SIGTERM: stop accepting, let in-flight requests finish within the grace
 * period, close pools, exit 0. A second signal or the end of the grace period exits at once
 * (code 1: requests were cut). Kubernetes sends SIGTERM and removes the pod from the Service
 * concurrently, so /readyz turns 503 as soon as draining begins.
 */
import type { Server } from 'node:http'
import type { Logger } from 'pino'

/** What drain stops, waits for and calls. */
export interface DrainOptions {
  server: Server
  /** Read when draining begins, so a reload can change it. */
  graceMs(): number
  /** Requests still running, for the log lines. */
  inFlight(): number
  /** Everything after the listener: admin, watchers, pools. */
  close(): Promise<void>
  log: Logger
  exit(code: number): void
}

/** The drain controller of one listener. */
export interface Drain {
  readonly draining: boolean
  /**
   * First call drains; a second call exits at once. `graceMs` is a `--workers` primary's (the
   * instance's grace, not this process's snapshot's, which may hold a reload not yet accepted):
   * a call with it while draining already (the worker's own SIGTERM came first) sets the grace.
   */
  begin(trigger: string, graceMs?: number): void
}

// Keep-alive connections become idle when their response ends; closing them lets server.close finish.
const SWEEP_MS = 100

/** Creates the drain controller of one listener. */
export function createDrain(o: DrainOptions): Drain {
  let draining = false
  let exited = false
  let startedAt = 0
  let grace: NodeJS.Timeout | undefined
  const exit = (code: number): void => {
    if (exited) return
    exited = true
    o.exit(code)
  }
  const arm = (graceMs: number): void => {
    clearTimeout(grace)
    grace = armGrace(o, startedAt, graceMs, exit)
  }
  return {
    get draining() {
      return draining
    },
    begin(trigger, given) {
      if (draining && given !== undefined) {
        o.log.info({ trigger, graceMs: given }, 'drain grace set by the primary')
        return arm(given)
      }
      if (draining) {
        o.log.warn({ trigger, inFlight: o.inFlight() }, 'second signal while draining: exiting now')
        return exit(1)
      }
      draining = true
      startedAt = Date.now()
      const graceMs = given ?? o.graceMs()
      o.log.info({ trigger, inFlight: o.inFlight(), graceMs }, 'draining: no new connections, waiting for in-flight requests')
      arm(graceMs)
      closeServer(o, () => {
        clearTimeout(grace)
        exit(0)
      })
    },
  }
}

/** Stops accepting, closes idle connections as they become idle, then everything after the listener; `done` once all closed. */
function closeServer(o: DrainOptions, done: () => void): void {
  const sweep = setInterval(() => o.server.closeIdleConnections(), SWEEP_MS)
  o.server.close(() => {
    clearInterval(sweep)
    o.close()
      .catch((e: unknown) => o.log.error({ err: e }, 'error while closing after drain'))
      .finally(() => {
        o.log.info('drained: exiting')
        done()
      })
  })
  o.server.closeIdleConnections()
}

/** The grace timer, counted from the drain's start: at its end the process exits with requests in flight. */
function armGrace(o: DrainOptions, startedAt: number, graceMs: number, exit: (code: number) => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    o.log.warn({ inFlight: o.inFlight(), graceMs }, 'grace period over: exiting with requests in flight')
    exit(1)
  }, Math.max(0, startedAt + graceMs - Date.now()))
  timer.unref()
  return timer
}
