import { describe, expect, it } from 'vitest'
import { createMetrics, type Metrics } from '../../src/ops/index.js'

// Per-request counters are kept as plain numbers and added to prom-client when the registry is
// read: every way of reading (text scrape, getMetricsAsJSON for the console and the --workers
// aggregation) must see every request exactly once, however often it reads.
type Json = Awaited<ReturnType<Metrics['registry']['getMetricsAsJSON']>>
const valueIn = (json: Json, name: string, labels: Record<string, string> = {}): number | undefined =>
  json.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value

/** One finished request as the gateway reports it. */
function request(m: Metrics, traceId?: string): void {
  m.inFlight(1)
  m.upstreamReuse('partner')
  m.oauthSignature('bench', 'HMAC-SHA1')
  m.request('partner', 'GET', 200, 12, 8, { mode: 'route', requestBytes: 100, responseBytes: 250, ...(traceId ? { traceId } : {}) })
  m.inFlight(-1)
}

describe('counters added at read time', () => {
  it('count each request once across repeated JSON and text reads', async () => {
    const m = createMetrics({ defaultMetrics: false })
    for (let i = 0; i < 3; i++) request(m)
    m.inFlight(1)
    let json = await m.registry.getMetricsAsJSON()
    expect(valueIn(json, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })).toBe(3)
    expect(valueIn(json, 'mtls_gateway_requests_in_flight')).toBe(1)
    expect(await m.registry.metrics()).toMatch(/mtls_gateway_requests_total\{endpoint="partner",method="GET",status_class="2xx"\} 3\n/)
    request(m)
    m.inFlight(-1)
    json = await m.registry.getMetricsAsJSON()
    expect(valueIn(json, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })).toBe(4)
    expect(valueIn(json, 'mtls_gateway_upstream_connection_reuses_total', { endpoint: 'partner' })).toBe(4)
    expect(valueIn(json, 'mtls_gateway_oauth_signatures_total', { profile: 'bench', method: 'HMAC-SHA1' })).toBe(4)
    expect(valueIn(json, 'mtls_gateway_relayed_bytes_total', { endpoint: 'partner', direction: 'in' })).toBe(400)
    expect(valueIn(json, 'mtls_gateway_relayed_bytes_total', { endpoint: 'partner', direction: 'out' })).toBe(1000)
    expect(valueIn(json, 'mtls_gateway_requests_in_flight')).toBe(0)
  })

  it('keep the duration exemplar of a traced request', async () => {
    const m = createMetrics({ defaultMetrics: false })
    m.enableExemplars()
    request(m)
    request(m, '0af7651916cd43dd8448eb211c80319c')
    const text = await m.registry.metrics()
    expect(text).toMatch(/mtls_gateway_requests_total\{endpoint="partner",method="GET",status_class="2xx"\} 2\n/)
    expect(text).toMatch(/mtls_gateway_request_duration_seconds_bucket\{[^}]*\} 2 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\}/)
  })
})
