/**
 * The `--workers` primary's view of the instance's metrics: its own registry (its process
 * counts too), every worker's answer to a scrape and what exited workers counted, aggregated as
 * one process would report them.
 */
import type { Worker } from 'node:cluster'
import { AggregatorRegistry, collectDefaultMetrics, Registry, type RegistryContentType } from 'prom-client'
import { openMetricsAggregate } from './aggregate-open-metrics.js'
import { createMonotonicFloor, type MonotonicFloor, type PickLabels, type RetainedMetrics } from './retained-metrics.js'
import { configNamesOf, namesRemovedObject, withoutRemovedObjects, type ConfigNames, type NamedObjects } from './config-series.js'
import type { Ask, WorkerMetrics } from './worker-link.js'

/** The primary's own registry, with Node's process metrics. */
export function createPrimaryRegistry(): Registry {
  const registry = new Registry()
  // The primary's own process counts too: summed with the workers', process_* is the whole instance.
  collectDefaultMetrics({ register: registry })
  // prom-client omits process_start_time_seconds from an aggregate (each process has its own); the
  // earliest is the primary's: the instance's start, what uptime panels and restart alerts read.
  const startTime = registry.getSingleMetric('process_start_time_seconds') as { aggregator?: string } | undefined
  if (startTime) startTime.aggregator = 'min'
  return registry
}

/** What aggregateInstanceMetrics reads. */
export interface InstanceMetricsOptions {
  /** The primary's own registry. */
  registry: Registry
  ask: Ask
  /** Workers forked and not exited yet. */
  live: ReadonlySet<Worker>
  /** What exited workers counted, and each worker's last answer. */
  retained: RetainedMetrics<Worker>
  /** The config in force (the start's, then each accepted reload's): an endpoint or profile it no longer has leaves no series. */
  configs: { current(): NamedObjects; onAccepted(fn: (config: NamedObjects) => void): void }
  /** Expose OpenMetrics with the workers' trace ids as exemplars (tracing.enabled, restart-only). */
  openMetrics: boolean
  askTimeoutMs: number
}

/** The instance's metrics: `aggregate` for the console, `metrics` for the admin listener's /metrics. */
export interface InstanceMetrics {
  aggregate(): Promise<Registry<RegistryContentType>>
  metrics(): Promise<{ contentType: string; body: string }>
}

/**
 * Drops from what exited workers counted, and from the floors, the series of the endpoints and
 * profiles the config in force lacks: at each accepted config (one added back before the next
 * scrape starts from nothing) and at each read, which calls the returned function for the names.
 */
function followConfigs(configs: InstanceMetricsOptions['configs'], retained: RetainedMetrics<Worker>, floor: MonotonicFloor): () => ConfigNames {
  const dropRemoved = (names: ConfigNames): ConfigNames => {
    const removed = (labels: Parameters<PickLabels>[0]): boolean => namesRemovedObject(labels, names)
    retained.drop(removed)
    floor.drop(removed)
    return names
  }
  configs.onAccepted((config) => dropRemoved(configNamesOf(config)))
  return () => dropRemoved(configNamesOf(configs.current()))
}

/** Aggregates the primary's and every worker's metrics at each read. */
export function aggregateInstanceMetrics(o: InstanceMetricsOptions): InstanceMetrics {
  const { registry, ask, live, retained } = o
  const floor = createMonotonicFloor()
  const namesNow = followConfigs(o.configs, retained, floor)
  const gather = async (): Promise<WorkerMetrics[]> => {
    const own = await registry.getMetricsAsJSON()
    // Each answer recorded as it arrives, so a worker that exits during the scrape departs with it.
    const answers = await Promise.all(
      [...live].map(async (w) => {
        const value = w.isConnected() ? ((await ask([w], 'metrics', o.askTimeoutMs))[0]?.value as WorkerMetrics | undefined) : undefined
        if (value !== undefined) retained.report(w, value)
        return { w, value }
      }),
    )
    // A worker that exited meanwhile is in departed() already; one that did not answer in time counts what it last said.
    const current = answers.filter(({ w }) => live.has(w)).map(({ w, value }) => value ?? retained.lastCounts(w))
    // An endpoint or profile the config in force lacks leaves every input: exited workers' counts, last answers, a worker not yet on it.
    const names = namesNow()
    return [own, retained.departed(), ...current].map((metrics) => withoutRemovedObjects(metrics, names))
  }
  // The aggregate of every process, lifted where float rounding made a counter read lower than before.
  const aggregateAll = async (): Promise<{ all: WorkerMetrics[]; aggregated: Registry<RegistryContentType> }> => {
    const all = await gather()
    const aggregated = AggregatorRegistry.aggregate(all)
    const lifts = floor.lift(await aggregated.getMetricsAsJSON())
    if (lifts.length === 0) return { all, aggregated }
    all.push(lifts)
    return { all, aggregated: AggregatorRegistry.aggregate(all) }
  }
  return {
    aggregate: async () => (await aggregateAll()).aggregated,
    async metrics() {
      const { all, aggregated } = await aggregateAll()
      // As one process with tracing on: OpenMetrics, with the workers' trace ids as exemplars (tracing.enabled is restart-only).
      if (o.openMetrics) await openMetricsAggregate(aggregated, all)
      return { contentType: aggregated.contentType, body: await aggregated.metrics() }
    },
  }
}
