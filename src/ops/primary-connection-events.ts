/**
 * The `--workers` primary's own listener-limit counters: its admin listener closes slow clients
 * and refuses connections like any listener, and a single process counts those. createMetrics
 * defines the counters (names, help and labels exactly a single process's, so the aggregate sums
 * them with the workers' series); only these are registered in the primary's registry, since its
 * other metrics (gauges at 0, an unset reload time) would distort the aggregate.
 */
import { Registry } from 'prom-client'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { connectionEvents, createFdPressure } from './connection-events.js'
import type { GatewayLog } from './log.js'
import { createMetrics, METRIC_PREFIX } from './metrics.js'

const LISTENER_COUNTERS = ['client_timeouts_total', 'connections_refused_total', 'fd_exhausted_total'] as const

/** Registers the listener-limit counters on `registry` and returns the events that count (and log) them. */
export function primaryConnectionEvents(registry: Registry, log: GatewayLog): ConnectionEvents {
  const defined = createMetrics({ registry: new Registry(), defaultMetrics: false })
  for (const name of LISTENER_COUNTERS) {
    const metric = defined.registry.getSingleMetric(`${METRIC_PREFIX}${name}`)
    if (!metric) throw new Error(`createMetrics defines no ${METRIC_PREFIX}${name}`)
    registry.registerMetric(metric)
  }
  return connectionEvents(defined, log, createFdPressure())
}
