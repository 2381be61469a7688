/**
 * Listener limit events → metrics and log lines, and the "out of file descriptors" condition
 * that readiness reports: a process that cannot open sockets should get no new traffic.
 */
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import type { GatewayLog } from './log.js'
import type { Metrics } from './metrics.js'

/** How long after the last EMFILE/ENFILE the process reports itself not ready. */
const FD_NOT_READY_MS = 10_000

/** Remembers when descriptors last ran out. */
export interface FdPressure {
  seen(): void
  /** ["file descriptors exhausted …"] while recent, else []. */
  conditions(): string[]
}

/** Creates the fd-exhaustion condition (clock injectable for tests). */
export function createFdPressure(now: () => number = Date.now): FdPressure {
  let last = -Infinity
  return {
    seen: () => void (last = now()),
    conditions() {
      const ago = now() - last
      return ago < FD_NOT_READY_MS ? [`file descriptors exhausted ${Math.round(ago / 1000)} s ago (EMFILE/ENFILE): raise the nofile limit or lower listen.connections.max`] : []
    },
  }
}

/** Counts every limit event; timeouts and refusals at debug (an attack must not flood the log), parse errors on admin at info. */
export function connectionEvents(metrics: Metrics, log: GatewayLog, fd: FdPressure): ConnectionEvents {
  return {
    onTimeout(listener, reason) {
      metrics.clientTimeout(listener, reason)
      log.logger.debug({ listener, reason }, 'connection closed by a limit')
    },
    onRefused(listener, reason) {
      metrics.connectionRefused(listener, reason)
      if (reason === 'fd_exhausted') {
        fd.seen()
        metrics.fdExhausted('accept')
      }
      log.logger.debug({ listener, reason }, 'connection refused')
    },
    onRejected(listener, err) {
      // The proxy listener logs these as requests (access log); the admin listener has no access log.
      if (listener === 'admin') log.logger.info({ listener, reason: err.reason, error: err.message }, 'request refused by the HTTP parser')
    },
  }
}
