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
  /** First call drains; a second call exits at once. */
  begin(trigger: string): void
}

// Keep-alive connections become idle when their response ends; closing them lets server.close finish.
const SWEEP_MS = 100

/** Creates the drain controller of one listener. */
export function createDrain(o: DrainOptions): Drain {
  let draining = false
  let exited = false
  const exit = (code: number): void => {
    if (exited) return
    exited = true
    o.exit(code)
  }
  return {
    get draining() {
      return draining
    },
    begin(trigger) {
      if (draining) {
        o.log.warn({ trigger, inFlight: o.inFlight() }, 'second signal while draining: exiting now')
        return exit(1)
      }
      draining = true
      const graceMs = o.graceMs()
      o.log.info({ trigger, inFlight: o.inFlight(), graceMs }, 'draining: no new connections, waiting for in-flight requests')
      const grace = setTimeout(() => {
        o.log.warn({ inFlight: o.inFlight(), graceMs }, 'grace period over: exiting with requests in flight')
        exit(1)
      }, graceMs)
      grace.unref()
      const sweep = setInterval(() => o.server.closeIdleConnections(), SWEEP_MS)
      o.server.close(() => {
        clearInterval(sweep)
        o.close()
          .catch((e: unknown) => o.log.error({ err: e }, 'error while closing after drain'))
          .finally(() => {
            clearTimeout(grace)
            o.log.info('drained: exiting')
            exit(0)
          })
      })
      o.server.closeIdleConnections()
    },
  }
}
