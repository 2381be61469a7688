/**
 * The `--workers` primary's own listener-limit counters: its admin listener closes slow clients
 * and refuses connections like any listener, and a single process counts those (and its console's
 * session key carried over to a new seal key, store_records_resealed_total). createMetrics
 * defines the counters (names, help and labels exactly a single process's, so the aggregate sums
 * them with the workers' series); only these are registered in the primary's registry, since its
 * other metrics (gauges at 0, an unset reload time) would distort the aggregate. Its
 * descriptor exhaustion is a readiness condition of the instance, as a single process's is.
 */
import { Registry } from 'prom-client'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { connectionEvents, createFdPressure } from './connection-events.js'
import type { GatewayLog } from './log.js'
import { capCallerFaultLines } from './caller-fault-lines.js'
import type { LineCapSettings } from './line-cap.js'
import { createMetrics, METRIC_PREFIX } from './metrics.js'
import type { AuthFailure } from '../callers/index.js'
import type { ConsoleRefusal } from './label-sets.js'
import type { ResealedKind } from '../store/index.js'

// caller_auth_failures_total: its admin listener refuses a connection a reload's admin.tls trust no longer admits;
// store_records_resealed_total: its console carries the session key over to a new seal key.
const LISTENER_COUNTERS = ['client_timeouts_total', 'connections_refused_total', 'fd_exhausted_total', 'caller_auth_failures_total', 'console_refusals_total', 'store_records_resealed_total'] as const

/** The primary's admin-listener events, and the conditions that make the instance not ready. */
export interface PrimaryConnectionEvents {
  readonly events: ConnectionEvents
  /**
   * The primary out of file descriptors, as a single process reports it (`primary <pid>: …`):
   * it accepts every connection of the instance, so none would reach a worker.
   */
  conditions(): string[]
  /** Counts an admin client refused (caller_auth_failures_total). */
  onAuthFailure(label: AuthFailure): void
  /** Counts a console refusal before sign-in (console_refusals_total). */
  consoleRefusal(reason: ConsoleRefusal): void
  /** Counts a record its console sealed again under the active seal key (store_records_resealed_total). */
  recordResealed(kind: ResealedKind): void
  /** Writes the pending summaries of its capped lines (at every exit, a cut one too). */
  flushLines(): void
}

/** Registers the listener-limit counters on `registry` and returns the events that count (and log, within `lineCap`) them. */
export function primaryConnectionEvents(registry: Registry, log: GatewayLog, lineCap: () => LineCapSettings): PrimaryConnectionEvents {
  const defined = createMetrics({ registry: new Registry(), defaultMetrics: false })
  for (const name of LISTENER_COUNTERS) {
    const metric = defined.registry.getSingleMetric(`${METRIC_PREFIX}${name}`)
    if (!metric) throw new Error(`createMetrics defines no ${METRIC_PREFIX}${name}`)
    registry.registerMetric(metric)
  }
  const fd = createFdPressure()
  const faults = capCallerFaultLines(log, lineCap)
  return {
    events: connectionEvents(defined, log, fd, faults),
    flushLines: () => faults.flush(),
    conditions: () => fd.conditions().map((c) => `primary ${process.pid}: ${c}`),
    onAuthFailure: (label) => defined.callerAuthFailure(label),
    consoleRefusal: (reason) => defined.consoleRefusal(reason),
    recordResealed: (kind) => defined.recordResealed(kind),
  }
}
