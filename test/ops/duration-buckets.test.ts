/**
 * The duration histograms resolve what they measure: a slow backend's calls (an endpoint with
 * `timeouts.response` raised past the 30 s default) and long responses (a download streamed for
 * minutes) fall in finite buckets, so histogram_quantile reports them instead of the largest finite
 * bound (it answers that bound for any quantile in the +Inf bucket: a p99 that says 30 s for
 * calls taking 45). Short ones keep their resolution: a loopback handshake of a few ms.
 */
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/ops/index.js'
import { parseMetrics, type Sample } from './helpers.js'

/** The `le` of the first finite bucket of `name` (with `labels`) that counts every observation: Infinity when only +Inf does. */
function smallestBucketHoldingAll(samples: Sample[], name: string, labels: Record<string, string>): number {
  const of = samples.filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  const total = of.find((s) => s.labels.le === '+Inf')?.value
  const finite = of.filter((s) => s.labels.le !== '+Inf' && s.value === total).map((s) => Number(s.labels.le))
  return finite.length > 0 ? Math.min(...finite) : Infinity
}

describe('the duration histograms\' buckets', () => {
  it('hold a 45 s upstream call and a 4-minute response in finite buckets, and a 3 ms handshake under 5 ms', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.request('slow', 'GET', 200, 45_500, 45_000, { mode: 'route' })
    metrics.request('download', 'GET', 200, 240_000, 120, { mode: 'route' })
    metrics.upstreamConnection('slow', false, 3)
    const m = parseMetrics(await metrics.registry.metrics())
    expect(smallestBucketHoldingAll(m, 'mtls_gateway_upstream_duration_seconds', { endpoint: 'slow' })).toBe(60)
    expect(smallestBucketHoldingAll(m, 'mtls_gateway_request_duration_seconds', { endpoint: 'slow' })).toBe(60)
    expect(smallestBucketHoldingAll(m, 'mtls_gateway_request_duration_seconds', { endpoint: 'download' })).toBe(300)
    expect(smallestBucketHoldingAll(m, 'mtls_gateway_upstream_tls_handshake_seconds', { endpoint: 'slow' })).toBe(0.005)
  })
})
