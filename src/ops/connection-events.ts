/**
 * Listener limit events → metrics and log lines, and the "out of file descriptors" condition
 * that readiness reports: a process that cannot open sockets should get no new traffic.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import type { GatewayLog } from './log.js'
import type { Metrics } from './metrics.js'
import type { CallerFaultLines } from './caller-fault-lines.js'
import { callerAddress } from '../proxy/caller-address.js'

/** How long after the last EMFILE/ENFILE the process reports itself not ready. */
const FD_NOT_READY_MS = 10_000

/** Remembers when descriptors last ran out. */
export interface FdPressure {
  seen(): void
  /** ["file descriptors exhausted …"] while recent, else []. */
  conditions(): string[]
}

/** Open descriptors over the soft limit at which the process stops being ready. */
const FD_NOT_READY_SHARE = 0.95
const ADVICE = 'raise the nofile limit or lower listen.connections.max'

/**
 * Open descriptors and the soft limit, from /proc (Linux; undefined elsewhere). Accept
 * failures never reach JavaScript (libuv closes what it cannot take), so this is how a
 * flood of idle connections shows before a request fails.
 */
function descriptorUse(): { open: number; limit: number } | undefined {
  try {
    const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1])
    return Number.isFinite(limit) ? { open: readdirSync('/proc/self/fd').length, limit } : undefined
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'EMFILE' || code === 'ENFILE' ? { open: Infinity, limit: 0 } : undefined
  }
}

/**
 * The start-up warning when `max` connections cannot all be held within the nofile limit (a
 * proxied call may hold a caller's and an upstream's descriptor); undefined when they can, or
 * when the limit is unknown. Node raises its soft limit to the hard one at start, so `limit`
 * is what the process really has.
 */
export function descriptorShortfall(max: number, limit: number | undefined = descriptorUse()?.limit): string | undefined {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0 || max * 2 <= limit) return undefined
  return `listen.connections.max ${max} may need ${max * 2} file descriptors (a caller's and an upstream's per call), but this process may open ${limit}: ${ADVICE}. Until then the connection cap cannot keep the process from running out of descriptors (it then refuses new connections, fd_exhausted)`
}

/** Creates the fd-exhaustion condition (clock injectable for tests). */
export function createFdPressure(now: () => number = Date.now): FdPressure {
  let last = -Infinity
  return {
    seen: () => void (last = now()),
    conditions() {
      const ago = now() - last
      if (ago < FD_NOT_READY_MS) return [`file descriptors exhausted ${Math.round(ago / 1000)} s ago (EMFILE/ENFILE): ${ADVICE}`]
      const use = descriptorUse()
      if (use && use.open >= use.limit * FD_NOT_READY_SHARE) return [`file descriptors exhausted: ${use.open === Infinity ? 'none left' : `${use.open} of ${use.limit} open`}: ${ADVICE}`]
      return []
    },
  }
}

/**
 * Counts every limit event; timeouts and refusals at debug, parse errors on admin at info, each
 * line within `faults`' budget (an attack must not flood the log).
 */
export function connectionEvents(metrics: Metrics, log: GatewayLog, fd: FdPressure, faults: Pick<CallerFaultLines, 'allowed'>): ConnectionEvents {
  const debug = (listener: string, reason: string): boolean => log.logger.isLevelEnabled('debug') && faults.allowed(listener, 'limit', reason)
  return {
    onTimeout(listener, reason) {
      metrics.clientTimeout(listener, reason)
      if (debug(listener, reason)) log.logger.debug({ listener, reason }, 'connection closed by a limit')
    },
    onRefused(listener, reason) {
      metrics.connectionRefused(listener, reason)
      if (reason === 'fd_exhausted') {
        fd.seen()
        metrics.fdExhausted('accept')
      }
      if (debug(listener, reason)) log.logger.debug({ listener, reason }, 'connection refused')
    },
    onRejected(listener, err, connection, req) {
      // The proxy listener logs these as requests (access log); the admin listener has no access
      // log: one line of its own, naming the method when there was a request (a CONNECT).
      const client = connection instanceof Socket ? callerAddress(connection) : undefined
      if (listener !== 'admin' || !faults.allowed(listener, 'request', err.reason, client)) return
      if (req) log.logger.info({ listener, method: req.method, reason: err.reason, error: err.message }, 'request refused')
      else log.logger.info({ listener, reason: err.reason, error: err.message }, 'request refused by the HTTP parser')
    },
  }
}
