/**
 * The series of an endpoint or profile the config in force no longer has are removed: from
 * every family of one process labelled by such a name (each fed here, so a family added later
 * without a case fails), at each read and at once when a config is adopted; and from the
 * `--workers` primary's aggregate, what exited workers counted and the floors included, also
 * when a reload adds the object back before the next scrape. The reserved endpoint labels stay.
 * Real prom-client registries; reload-series*.test.ts run real gateways.
 */
import { Registry } from 'prom-client'
import type { Worker } from 'node:cluster'
import { describe, expect, it } from 'vitest'
import { configNamesOf, type NamedObjects } from '../../src/ops/config-series.js'
import { aggregateInstanceMetrics } from '../../src/ops/instance-metrics.js'
import { createMetrics, type Metrics } from '../../src/ops/metrics.js'
import { createRetainedMetrics } from '../../src/ops/retained-metrics.js'
import { parseMetrics } from './helpers.js'

/** A config with these endpoint and profile names (all config-series reads of one). */
const configOf = (endpoints: string[], profiles: string[]): NamedObjects =>
  ({ endpoints: endpoints.map((name) => ({ name })), profiles: profiles.map((name) => ({ name })) }) as unknown as NamedObjects

const OBJECT_LABELS = ['endpoint', 'profile']

/** Feeds every family labelled by an endpoint or profile name, for `endpoint` and `profile`; the scrape-time gauges follow `current`. */
function feed(metrics: Metrics, endpoint: string, profile: string): void {
  metrics.request(endpoint, 'GET', 200, 12, 8, { mode: 'route', requestBytes: 10, responseBytes: 20 })
  metrics.handshakeFailure(endpoint, 'upstream_cert_untrusted')
  metrics.upstreamConnection(endpoint, false, 4)
  metrics.upstreamReuse(endpoint)
  metrics.upstreamRetry(endpoint, 1)
  metrics.upstreamPoolEvicted(endpoint)
  metrics.oauthSignature(profile, 'HMAC-SHA1')
}

/** Each family labelled by a config object's name, and the label values of its series. */
async function objectSeries(registry: Registry): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const m of await registry.getMetricsAsJSON()) {
    const values = m.values.flatMap((v) => OBJECT_LABELS.flatMap((l) => (v.labels[l] === undefined ? [] : [String(v.labels[l])])))
    const labelled = (registry.getSingleMetric(m.name) as unknown as { labelNames: string[] }).labelNames.some((l) => OBJECT_LABELS.includes(l))
    if (labelled) out.set(m.name, [...new Set(values)].sort())
  }
  return out
}

describe('one process', () => {
  it('drops the series of a removed endpoint and profile from every family at the next read, keeping the rest and the reserved labels', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    let config = configOf(['kept', 'gone'], ['kept-p', 'gone-p'])
    metrics.watchConfigNames(() => configNamesOf(config))
    const now = new Date()
    const validity = (endpoint: string) => ({ endpoint, kind: 'client' as const, notBefore: now, notAfter: now })
    // The scrape-time gauges read the snapshot in force, as watchSnapshot hands them over.
    const endpoints = (): string[] => config.endpoints.map((e) => e.name)
    metrics.watchDegradation(() => endpoints().map((endpoint) => ({ endpoint, reasons: [] })))
    metrics.watchUpstreamPools(() => endpoints().map((endpoint) => ({ endpoint, connected: 1, waiting: 0 })))
    metrics.watchCertificateValidity(() => endpoints().map(validity))
    metrics.setCertificateValidity([validity('')])
    for (const [endpoint, profile] of [['kept', 'kept-p'], ['gone', 'gone-p']] as const) feed(metrics, endpoint, profile)
    metrics.request(undefined, 'GET', 404, 1, undefined, { mode: 'route' })
    metrics.request(undefined, 'POST', 401, 1, undefined, { mode: 'api' })
    const before = await objectSeries(metrics.registry)
    // The families read below are among those checked here (the loops over them are not empty).
    expect([...before.keys()]).toEqual(expect.arrayContaining(['mtls_gateway_requests_total', 'mtls_gateway_certificate_expiry_timestamp_seconds', 'mtls_gateway_oauth_signatures_total']))
    // Every family named by an object has both objects' series: none is left out of this test.
    for (const [family, values] of before) expect(values, family).toEqual(expect.arrayContaining(family.includes('signature') ? ['gone-p', 'kept-p'] : ['gone', 'kept']))
    config = configOf(['kept'], ['kept-p'])
    // Counted after the removal (a request that finished on the old snapshot): dropped too.
    feed(metrics, 'gone', 'gone-p')
    const after = await objectSeries(metrics.registry)
    // Every family is still read (its kept series stay), so the check below covers each one.
    expect([...after.keys()]).toEqual([...before.keys()])
    for (const [family, values] of after) expect(values.filter((v) => v.startsWith('gone')), family).toEqual([])
    expect(after.get('mtls_gateway_requests_total')).toEqual(['_gateway', '_none', 'kept'])
    expect(after.get('mtls_gateway_certificate_expiry_timestamp_seconds')).toEqual(['', 'kept'])
    expect(after.get('mtls_gateway_oauth_signatures_total')).toEqual(['kept-p'])
    const kept = (await metrics.registry.getSingleMetricAsString('mtls_gateway_requests_total')).match(/endpoint="kept",method="GET",status_class="2xx"} (\d+)/)?.[1]
    expect(kept).toBe('1')
  })

  it('drops them at once on dropRemovedSeries, counts not read yet included: added back, the endpoint starts from nothing', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    let config = configOf(['kept', 'gone'], [])
    metrics.watchConfigNames(() => configNamesOf(config))
    metrics.request('gone', 'GET', 200, 12, 8, { mode: 'route' })
    config = configOf(['kept'], [])
    metrics.dropRemovedSeries()
    config = configOf(['kept', 'gone'], [])
    const m = parseMetrics(await metrics.registry.metrics())
    expect(m.filter((s) => s.labels.endpoint === 'gone' && s.value !== 0).map((s) => s.name)).toEqual([])
    // Its zero series are back, as at a fresh start.
    expect(m.some((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === 'gone' && s.labels.status_class === '5xx')).toBe(true)
  })
})

describe('the --workers primary', () => {
  it('drops a removed endpoint from what exited workers counted, also when a reload adds it back before the next scrape', async () => {
    const worker = createMetrics({ defaultMetrics: false })
    const workerConfig = configOf(['kept', 'gone'], [])
    worker.watchConfigNames(() => configNamesOf(workerConfig))
    worker.request('kept', 'GET', 200, 12, 8, { mode: 'route' })
    worker.request('gone', 'GET', 200, 12, 8, { mode: 'route' })
    const retained = createRetainedMetrics<Worker>()
    const exited = {} as Worker
    retained.report(exited, await worker.registry.getMetricsAsJSON())
    retained.depart(exited)
    let current = configOf(['kept', 'gone'], [])
    const accepted: ((c: NamedObjects) => void)[] = []
    const instance = aggregateInstanceMetrics({
      registry: new Registry(), ask: async () => [], live: new Set(), retained, openMetrics: false, askTimeoutMs: 100,
      configs: { current: () => current, onAccepted: (fn) => void accepted.push(fn) },
    })
    const count = async (endpoint: string): Promise<number | undefined> =>
      parseMetrics((await instance.metrics()).body).find((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === endpoint && s.labels.status_class === '2xx')?.value
    expect([await count('kept'), await count('gone')]).toEqual([1, 1])
    // Removed and added back by two reloads between two scrapes.
    for (const next of [configOf(['kept'], []), configOf(['kept', 'gone'], [])]) {
      current = next
      for (const fn of accepted) fn(next)
    }
    expect([await count('kept'), await count('gone')]).toEqual([1, undefined])
  })
})
