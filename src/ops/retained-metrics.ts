/**
 * The `--workers` primary's memory of its workers' metrics, so the instance's counters never go
 * down while the primary lives. The aggregate used to sum only the workers that answered a
 * scrape: a worker that crashed (or answered late) took its counts with it, and Prometheus read
 * each drop as a counter reset (rate spikes, false alerts). Each worker's last answer is kept;
 * when the worker exits, its counters and histograms join a retained "departed" total that every
 * later aggregate adds as one more process. What a worker counted after its last answer is lost:
 * a killed process cannot be asked. Gauges are never carried: they describe the processes alive.
 */
import type { WorkerMetrics } from './worker-link.js'

type Metric = WorkerMetrics[number]
type Exemplar = { timestamp: number } | null | undefined
type Value = Metric['values'][number] & { metricName?: string; exemplar?: Exemplar }

const newer = (a: Exemplar, b: Exemplar): Exemplar => (!a ? b : !b ? a : b.timestamp > a.timestamp ? b : a)

/**
 * Counters and histograms whose aggregate cannot fall while every input is monotonic: summed
 * (most) or the max (config reloads, which every worker counts alike). A min or an average of
 * a counter would fall when a fresh worker joins at 0, so those are not carried.
 */
const carried = (m: Metric): boolean => {
  const type = String(m.type)
  const aggregator = m.aggregator ?? 'sum'
  return (type === 'counter' || type === 'histogram') && (aggregator === 'sum' || aggregator === 'max')
}

const valueKey = (v: Value): string =>
  `${v.metricName ?? ''}\0${Object.keys(v.labels).sort().map((k) => `${k}=${String(v.labels[k as keyof typeof v.labels])}`).join('\0')}`

/** The primary's record of its workers' metrics, keyed by worker. */
export interface RetainedMetrics<W extends object> {
  /** A worker's answer to a scrape; ignored once the worker departed (its last answer is retained already). */
  report(worker: W, metrics: WorkerMetrics): void
  /** The worker exited: the counters and histograms of its last answer join the departed total. */
  depart(worker: W): void
  /** The departed workers' total, as one more process's metrics for the aggregate. */
  departed(): WorkerMetrics
  /** A live worker's last counters and histograms: its share of a scrape it did not answer in time. */
  lastCounts(worker: W): WorkerMetrics
  /** Forgets the departed values whose labels `removed` picks (a config object a reload removed: added back, it starts from nothing). */
  drop(removed: PickLabels): void
}

/** Picks series by their labels. */
export type PickLabels = (labels: Value['labels']) => boolean

/** Creates an empty record (one per primary). */
export function createRetainedMetrics<W extends object>(): RetainedMetrics<W> {
  const last = new Map<W, WorkerMetrics>()
  const gone = new WeakSet<W>()
  // Per metric name: its description and its values by metric name and labels.
  const total = new Map<string, { metric: Metric; values: Map<string, Value> }>()
  const fold = (metrics: WorkerMetrics): void => {
    for (const m of metrics) {
      if (!carried(m)) continue
      let entry = total.get(m.name)
      if (!entry) total.set(m.name, (entry = { metric: Object.assign({}, m, { values: [] }), values: new Map() }))
      const max = (m.aggregator ?? 'sum') === 'max'
      for (const v of m.values as Value[]) {
        const key = valueKey(v)
        const seen = entry.values.get(key)
        const value = seen === undefined ? v.value : max ? Math.max(seen.value, v.value) : seen.value + v.value
        // A bucket keeps its newest exemplar, as one process's does; a live process's newer one wins at the scrape.
        const exemplar = newer(seen?.exemplar, v.exemplar)
        entry.values.set(key, { value, labels: Object.assign({}, v.labels), ...(v.metricName !== undefined ? { metricName: v.metricName } : {}), ...(exemplar ? { exemplar } : {}) })
      }
    }
  }
  return {
    report(worker, metrics) {
      if (!gone.has(worker)) last.set(worker, metrics)
    },
    depart(worker) {
      gone.add(worker)
      const metrics = last.get(worker)
      last.delete(worker)
      if (metrics) fold(metrics)
    },
    // A fresh copy per call: the aggregate shares label objects with its inputs.
    departed: () => [...total.values()].map(({ metric, values }) => Object.assign({}, metric, { values: [...values.values()].map((v) => Object.assign({}, v, { labels: Object.assign({}, v.labels) })) })),
    lastCounts: (worker) => (last.get(worker) ?? []).filter(carried),
    drop(removed) {
      for (const { values } of total.values()) for (const [key, v] of values) if (removed(v.labels)) values.delete(key)
    },
  }
}

/**
 * Keeps each carried series of the instance's aggregate at or above what it last showed. When a
 * worker departs, its values move from one addend to another and the float sum of fractional
 * series (CPU seconds, a histogram's _sum) can come out one rounding step lower, which
 * Prometheus would also read as a counter reset. `lift` returns, as one more process's metrics,
 * what brings each such series back to its floor (empty when none fell: the usual case).
 */
export interface MonotonicFloor {
  lift(aggregate: WorkerMetrics): WorkerMetrics
  /** Forgets the floors of the series `removed` picks: a removed endpoint added back starts from nothing, not at its old counts. */
  drop(removed: PickLabels): void
}

/** Creates the floor (one per primary; both the scrape and the console's view go through it). */
export function createMonotonicFloor(): MonotonicFloor {
  const floor = new Map<string, { value: number; labels: Value['labels'] }>()
  return {
    drop(removed) {
      for (const [key, { labels }] of floor) if (removed(labels)) floor.delete(key)
    },
    lift(aggregate) {
      const out: WorkerMetrics = []
      for (const m of aggregate) {
        if (!carried(m)) continue
        const lifts: Value[] = []
        for (const v of m.values as Value[]) {
          const key = `${m.name}\0${valueKey(v)}`
          const seen = floor.get(key)?.value
          if (seen === undefined || v.value >= seen) {
            floor.set(key, { value: v.value, labels: v.labels })
            continue
          }
          // Past the floor by a few ulps, so the re-summed value cannot round back under it.
          const lifted = (m.aggregator ?? 'sum') === 'max' ? seen : seen - v.value + Math.abs(seen) * 8 * Number.EPSILON
          lifts.push(Object.assign({}, v, { value: lifted, labels: Object.assign({}, v.labels), exemplar: undefined }))
        }
        if (lifts.length > 0) out.push(Object.assign({}, m, { values: lifts }))
      }
      return out
    },
  }
}
