/**
 * Reads of the metrics registry for the admin listener: the scrape text and the JSON the console
 * reads. prom-client's metrics() in OpenMetrics mode (on once tracing adds exemplars) strips
 * `_total` from every counter's name in place and never puts it back, so every later JSON read
 * (the console, name lookups) would miss the counters. Reads go through one queue, and a scrape
 * restores the names it changed before the next read runs.
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client'

/** The registry's two read paths, serialised. */
export interface Exposition {
  text(): Promise<{ contentType: string; body: string }>
  json(): Promise<MetricObjectWithValues<MetricValue<string>>[]>
}

/** Wraps `registry` so an OpenMetrics scrape leaves its counters' names as they were. */
export function createExposition(registry: Registry): Exposition {
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(read: () => Promise<T>): Promise<T> => {
    const run = queue.then(read, read)
    queue = run.catch(() => undefined)
    return run
  }
  return {
    text: () =>
      serial(async () => {
        const named = registry.getMetricsAsArray().map((m) => ({ m: m as unknown as { name: string }, name: (m as unknown as { name: string }).name }))
        try {
          return { contentType: registry.contentType, body: await registry.metrics() }
        } finally {
          for (const { m, name } of named) m.name = name
        }
      }),
    json: () => serial(() => registry.getMetricsAsJSON()),
  }
}
