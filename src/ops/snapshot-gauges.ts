/**
 * The gauges read at each scrape from the snapshot in force (an endpoint a reload removed
 * disappears from them): endpoint degradation, upstream pools, and when each endpoint's CRLs
 * (`tls.crl`) reach their nextUpdate. Past that instant OpenSSL refuses every server and the
 * endpoint degrades (server_crl_not_valid); CRLs are short-lived and renewed by something
 * outside the gateway, so the date is what an alert must watch before the outage.
 */
import { Gauge } from 'prom-client'
import type { Gateway } from '../gateway/index.js'
import { createServerRootsInUse, endpointDegradation, endpointPools, type ServerRootsInUse } from './certificates.js'
import { METRIC_PREFIX, type Metrics } from './metrics.js'
import { configNamesOf } from './config-series.js'

/** Each endpoint's earliest CRL nextUpdate in ms (its own and its tenants' bundles); endpoints without a dated CRL are absent. */
export function crlNextUpdates(gateway: Gateway): { endpoint: string; at: number }[] {
  return [...gateway.endpoints.values()].flatMap((e) => {
    const bundles = [e.bundle, ...[...e.tenantUpstreams.values()].map((t) => t.bundle)]
    const ends = bundles.flatMap((b) => b.crls.flatMap((c) => c.periods.flatMap((p) => (p.until === undefined ? [] : [p.until]))))
    return ends.length > 0 ? [{ endpoint: e.name, at: Math.min(...ends) }] : []
  })
}

/** Registers the snapshot gauges on the metrics' registry; `current` is the snapshot in force (none before the first). Returns the record of server roots in use, for the upstream handshakes to feed. */
export function watchSnapshot(metrics: Metrics, current: () => Gateway | undefined): Pick<ServerRootsInUse, 'connected'> {
  const read = <T>(f: (g: Gateway) => T[]): (() => T[]) => () => {
    const g = current()
    return g ? f(g) : []
  }
  metrics.watchDegradation(read(endpointDegradation))
  metrics.watchUpstreamPools(read(endpointPools))
  metrics.watchConfigNames(() => {
    const g = current()
    return g ? configNamesOf(g.config) : undefined
  })
  const crls = read(crlNextUpdates)
  new Gauge({
    name: `${METRIC_PREFIX}crl_next_update_timestamp_seconds`,
    help: 'Unix time the first CRL of the endpoint (tls.crl, tenant bundles included) passes its nextUpdate: the endpoint degrades then unless a fresh CRL is in place.',
    labelNames: ['endpoint'] as const,
    aggregator: 'min',
    registers: [metrics.registry],
    collect() {
      this.reset()
      for (const { endpoint, at } of crls()) this.set({ endpoint }, Math.floor(at / 1000))
    },
  })
  const rootsInUse = createServerRootsInUse()
  metrics.watchCertificateValidity(read((g) => rootsInUse.validities(g)))
  return rootsInUse
}
