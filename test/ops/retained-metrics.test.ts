/**
 * The `--workers` primary's retained metrics: a departed worker's counters and histograms stay
 * in the aggregate (summed, or the max where the metric says so), its gauges do not, and the
 * OpenMetrics aggregate still sums buckets and carries the live workers' exemplars. Real
 * prom-client registries stand for the workers; workers.test.ts kills a real worker.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { openMetricsAggregate } from '../../src/ops/aggregate-open-metrics.js'
import { createMonotonicFloor, createRetainedMetrics } from '../../src/ops/retained-metrics.js'
import type { WorkerMetrics } from '../../src/ops/worker-link.js'
import { parseMetrics, valueOf } from './helpers.js'

/** One worker's registry after `requests` requests of `seconds` each (trace `traceId`), `reloads` reloads, `inFlight` in flight. */
async function worker(o: { requests: number; reloads: number; inFlight: number; seconds?: number; traceId?: string }): Promise<WorkerMetrics> {
  const registry = new Registry<OpenMetricsContentType>()
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  new Counter({ name: 'mtls_gateway_requests_total', help: 'c', labelNames: ['endpoint'], registers: [registry] }).labels('partner').inc(o.requests)
  new Counter({ name: 'mtls_gateway_config_reloads_total', help: 'r', aggregator: 'max', registers: [registry] }).inc(o.reloads)
  new Gauge({ name: 'mtls_gateway_requests_in_flight', help: 'g', registers: [registry] }).set(o.inFlight)
  const h = new Histogram({ name: 'mtls_gateway_request_duration_seconds', help: 'h', labelNames: ['endpoint'], buckets: [0.01, 0.1, 1], enableExemplars: true, registers: [registry] })
  for (let i = 0; i < o.requests; i++) h.observe({ labels: { endpoint: 'partner' }, value: o.seconds ?? 0.05, ...(o.traceId ? { exemplarLabels: { trace_id: o.traceId } as Record<string, string> } : {}) })
  return registry.getMetricsAsJSON()
}

const text = async (inputs: WorkerMetrics[], openMetrics = false): Promise<string> => {
  const aggregated = AggregatorRegistry.aggregate(inputs)
  if (openMetrics) await openMetricsAggregate(aggregated, inputs)
  return aggregated.metrics()
}

describe('createRetainedMetrics', () => {
  it('keeps a departed worker\'s counters and histograms (sum, or max) and drops its gauges', async () => {
    const retained = createRetainedMetrics<{ id: string }>()
    const [a, b, fresh] = [{ id: 'a' }, { id: 'b' }, { id: 'fresh' }]
    retained.report(a, await worker({ requests: 5, reloads: 1, inFlight: 7 }))
    retained.report(b, await worker({ requests: 3, reloads: 1, inFlight: 2 }))
    retained.depart(a)
    // A late answer of a departed worker is not counted a second time, nor kept.
    retained.report(a, await worker({ requests: 50, reloads: 1, inFlight: 7 }))
    expect(retained.lastCounts(a)).toEqual([])
    const replacement = await worker({ requests: 0, reloads: 0, inFlight: 0 })
    retained.report(fresh, replacement)
    let m = parseMetrics(await text([retained.departed(), (await worker({ requests: 4, reloads: 1, inFlight: 2 })), replacement]))
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'partner' })).toBe(9)
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner' })).toBe(9)
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_bucket', { endpoint: 'partner', le: '0.1' })).toBe(9)
    expect(valueOf(m, 'mtls_gateway_config_reloads_total')).toBe(1)
    expect(valueOf(m, 'mtls_gateway_requests_in_flight')).toBe(2)
    // Every worker gone: reloads stay the max each counted (not their sum), requests the sum.
    retained.depart(b)
    retained.depart(fresh)
    m = parseMetrics(await text([retained.departed()]))
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'partner' })).toBe(8)
    expect(valueOf(m, 'mtls_gateway_config_reloads_total')).toBe(1)
    expect(valueOf(m, 'mtls_gateway_requests_in_flight')).toBeUndefined()
  })

  it('counts a live worker that did not answer at its last counters and histograms, not its gauges', async () => {
    const retained = createRetainedMetrics<{ id: string }>()
    const slow = { id: 'slow' }
    retained.report(slow, await worker({ requests: 6, reloads: 2, inFlight: 3 }))
    const names = retained.lastCounts(slow).map((x) => x.name).sort()
    expect(names).toEqual(['mtls_gateway_config_reloads_total', 'mtls_gateway_request_duration_seconds', 'mtls_gateway_requests_total'])
    expect(retained.lastCounts({ id: 'never answered' })).toEqual([])
  })

  it('leaves the OpenMetrics aggregate right: departed counts in the buckets, the newest exemplar of each bucket on it', async () => {
    const retained = createRetainedMetrics<{ id: string }>()
    const [slow, quick] = [{ id: 'slow' }, { id: 'quick' }]
    retained.report(slow, await worker({ requests: 2, reloads: 0, inFlight: 0, seconds: 0.5, traceId: 'a'.repeat(32) }))
    retained.report(quick, await worker({ requests: 1, reloads: 0, inFlight: 0, seconds: 0.05, traceId: 'c'.repeat(32) }))
    retained.depart(slow)
    retained.depart(quick)
    await new Promise((r) => setTimeout(r, 5))
    const live = await worker({ requests: 3, reloads: 0, inFlight: 1, seconds: 0.05, traceId: 'b'.repeat(32) })
    const out = await text([retained.departed(), live], true)
    expect(out).toMatch(/^mtls_gateway_requests_total\{endpoint="partner"\} 6$/m)
    expect(out).toContain('# TYPE mtls_gateway_requests counter\n')
    expect(out).not.toContain('_total_total')
    // le=0.1: the live worker's trace is newer than the departed one's; le=1: only a departed worker observed there, as one process would still show.
    const bucket = (le: string, n: number, trace: string, seconds: number): RegExp =>
      new RegExp(`^mtls_gateway_request_duration_seconds_bucket\\{le="${le}",endpoint="partner"\\} ${n} # \\{trace_id="${trace}"\\} ${seconds} [0-9.]+$`, 'm')
    expect(out).toMatch(bucket('0.1', 4, 'b'.repeat(32), 0.05))
    expect(out).toMatch(bucket('1', 6, 'a'.repeat(32), 0.5))
    expect(out).not.toContain('c'.repeat(32))
    expect(out.endsWith('# EOF\n')).toBe(true)
    // The departed total is not changed by an aggregate built on it.
    expect(valueOf(parseMetrics(await text([retained.departed()])), 'mtls_gateway_requests_total', { endpoint: 'partner' })).toBe(3)
  })
})

describe('createMonotonicFloor', () => {
  /** A process's metrics with one fractional counter (CPU seconds, a histogram's _sum). */
  const cpu = (values: number[]): WorkerMetrics[] =>
    values.map((value) => [{ name: 'process_cpu_seconds_total', help: 'c', type: 'counter', aggregator: 'sum', values: [{ value, labels: {} }] }] as unknown as WorkerMetrics)
  const read = async (inputs: WorkerMetrics[]): Promise<number> => (await AggregatorRegistry.aggregate(inputs).getMetricsAsJSON())[0]?.values[0]?.value ?? NaN

  it('lifts a sum that float rounding moved one step down when the addends regrouped, and nothing else', async () => {
    const floor = createMonotonicFloor()
    // The same three numbers, summed as (a + b) + c and then as a + (b + c): the second reads lower.
    const [a, b, c] = [0.1, 0.2, 0.3]
    expect(a + (b + c)).toBeLessThan(a + b + c)
    const before = cpu([a, b, c])
    expect(floor.lift(await AggregatorRegistry.aggregate(before).getMetricsAsJSON())).toEqual([])
    const shown = await read(before)
    const regrouped = cpu([a, b + c])
    expect(await read(regrouped)).toBeLessThan(shown)
    const lifts = floor.lift(await AggregatorRegistry.aggregate(regrouped).getMetricsAsJSON())
    expect(lifts).toHaveLength(1)
    expect(await read([...regrouped, lifts])).toBeGreaterThanOrEqual(shown)
    // A real increase needs no lift, and raises the floor.
    expect(floor.lift(await AggregatorRegistry.aggregate(cpu([1])).getMetricsAsJSON())).toEqual([])
    expect(floor.lift(await AggregatorRegistry.aggregate(cpu([0.9])).getMetricsAsJSON())).toHaveLength(1)
  })
})
