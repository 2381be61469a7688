/**
 * The `--workers` aggregate in OpenMetrics: buckets summed with the newest exemplar any process
 * holds, counter families named as prom-client names its own (no `_total_total`). Two real
 * prom-client registries stand for two workers; workers-trace.test.ts scrapes a real primary.
 */
import { AggregatorRegistry, Counter, Histogram, Registry, type OpenMetricsContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { openMetricsAggregate } from '../../src/ops/aggregate-open-metrics.js'
import { parseMetrics, valueOf } from './helpers.js'

function worker(traceId: string, seconds: number, requests: number): Registry<OpenMetricsContentType> {
  const registry = new Registry<OpenMetricsContentType>()
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  const h = new Histogram({ name: 'mtls_gateway_request_duration_seconds', help: 'h', labelNames: ['endpoint'], buckets: [0.01, 0.1, 1], enableExemplars: true, registers: [registry] })
  h.observe({ labels: { endpoint: 'partner' }, value: seconds, exemplarLabels: { trace_id: traceId } as Record<string, string> })
  new Counter({ name: 'mtls_gateway_requests_total', help: 'c', registers: [registry] }).inc(requests)
  return registry
}

describe('openMetricsAggregate', () => {
  it('sums the buckets, keeps the newest exemplar of each, and names counters as OpenMetrics does', async () => {
    const first = await worker('a'.repeat(32), 0.05, 2).getMetricsAsJSON()
    await new Promise((r) => setTimeout(r, 5))
    const second = await worker('b'.repeat(32), 0.05, 3).getMetricsAsJSON()
    const aggregated = AggregatorRegistry.aggregate([first, second])
    await openMetricsAggregate(aggregated, [first, second])
    expect(aggregated.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    const text = await aggregated.metrics()
    expect(text).toContain('# TYPE mtls_gateway_requests counter\n')
    expect(text).toMatch(/^mtls_gateway_requests_total 5$/m)
    expect(text).not.toContain('_total_total')
    // 0.05 s falls in le=0.1 and above; the newer worker's trace id marks those buckets.
    expect(text).toMatch(new RegExp(`^mtls_gateway_request_duration_seconds_bucket\\{le="0.1",endpoint="partner"\\} 2 # \\{trace_id="${'b'.repeat(32)}"\\} 0.05 [0-9.]+$`, 'm'))
    expect(text).toMatch(/^mtls_gateway_request_duration_seconds_bucket\{le="0.01",endpoint="partner"\} 0$/m)
    expect(valueOf(parseMetrics(text), 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner' })).toBe(2)
    expect(text.endsWith('# EOF\n')).toBe(true)
  })
})
