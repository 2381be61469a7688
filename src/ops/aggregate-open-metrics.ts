/**
 * The `--workers` aggregate in OpenMetrics, with exemplars, as one process with tracing on
 * exposes itself. prom-client's AggregatorRegistry sums each histogram bucket across the
 * processes and drops the exemplar every worker attached to it, so the primary's scrape lost
 * the trace id per bucket that one process's scrape shows. Here each summed bucket gets back
 * the newest exemplar any process holds for it. And where prom-client renames its own counter
 * families for OpenMetrics (no `_total` on the family, `_total` on the sample), it does not
 * rename an aggregate's: left alone they would read `process_cpu_seconds_total_total`.
 */
import { Registry, type RegistryContentType } from 'prom-client'
import type { WorkerMetrics } from './worker-link.js'

interface ExemplarValue {
  labelSet: Record<string, string | number>
  value: number
  timestamp: number
}

/** One histogram sample as prom-client's JSON (and the aggregate) hold it. */
interface Sample {
  metricName?: string
  labels: Partial<Record<string, string | number>>
  exemplar?: ExemplarValue | null
}

/** What the aggregate registers for each metric: an object whose get() returns the summed values. */
interface AggregatedMetric {
  get(): Promise<AggregatedValues> | AggregatedValues
}
interface AggregatedValues {
  name: string
  type: string
  values: Sample[]
}

const sampleKey = (s: Sample): string =>
  `${s.metricName ?? ''}\0${Object.keys(s.labels).sort().map((k) => `${k}=${String(s.labels[k])}`).join('\0')}`

/** Switches `aggregated` (summed from `inputs`) to OpenMetrics and puts the newest exemplar of each histogram sample of `inputs` on its sample. */
export async function openMetricsAggregate(aggregated: Registry<RegistryContentType>, inputs: readonly WorkerMetrics[]): Promise<void> {
  const newest = new Map<string, ExemplarValue>()
  for (const metrics of inputs) {
    for (const metric of metrics) {
      if (String(metric.type) !== 'histogram') continue
      for (const sample of metric.values as Sample[]) {
        const e = sample.exemplar
        if (!e) continue
        const key = sampleKey(sample)
        const seen = newest.get(key)
        if (!seen || e.timestamp > seen.timestamp) newest.set(key, e)
      }
    }
  }
  // prom-client types a registry's content type as fixed; this registry is built per scrape.
  ;(aggregated as unknown as { setContentType(t: string): void }).setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  for (const metric of aggregated.getMetricsAsArray() as unknown as AggregatedMetric[]) {
    const m = await metric.get()
    if (m.type === 'counter') m.name = m.name.replace(/_total$/, '')
    if (m.type !== 'histogram' || newest.size === 0) continue
    for (const sample of m.values) {
      const e = newest.get(sampleKey(sample))
      if (e) sample.exemplar = e
    }
  }
}
