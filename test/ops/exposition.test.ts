import { describe, expect, it } from 'vitest'
import { createExposition, createMetrics } from '../../src/ops/index.js'

// With tracing on the exposition is OpenMetrics (exemplars). prom-client's scrape in that mode
// renames counters in place (drops `_total`); the console and name lookups read the registry
// afterwards and must still find them.
describe('metrics exposition in OpenMetrics mode', () => {
  const traced = (): ReturnType<typeof createMetrics> => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.enableExemplars()
    metrics.request('partner', 'GET', 200, 12, 5, { mode: 'route', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' })
    return metrics
  }

  it('scrapes keep the counters readable by name, scrape after scrape', async () => {
    const metrics = traced()
    const exposition = createExposition(metrics.registry)
    for (let i = 0; i < 3; i++) {
      const { contentType, body } = await exposition.text()
      expect(contentType).toMatch(/openmetrics/)
      expect(body).toMatch(/^mtls_gateway_requests_total\{endpoint="partner",method="GET",status_class="2xx"\} 1$/m)
      const names = (await exposition.json()).map((m) => m.name)
      expect(names).toContain('mtls_gateway_requests_total')
    }
  })

  it('concurrent reads never see the renamed counters', async () => {
    const exposition = createExposition(traced().registry)
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? exposition.text() : exposition.json())))
    for (const r of reads) {
      if (Array.isArray(r)) expect(r.map((m) => m.name)).toContain('mtls_gateway_requests_total')
      else expect(r.body).toContain('mtls_gateway_requests_total{')
    }
  })

  it('(why: the bare registry loses the names after one OpenMetrics scrape)', async () => {
    const { registry } = traced()
    await registry.metrics()
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).not.toContain('mtls_gateway_requests_total')
  })
})
