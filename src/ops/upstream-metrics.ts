/**
 * The upstream connection families: handshake failures by reason, new connections (resumed or
 * not) and their handshake time, requests on reused connections, and retries after a reused
 * connection closed under a request, and idle pools closed to make room for another origin.
 */
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'
import { createPendingCounts } from './pending-counts.js'
import { zeroSeriesPerEndpoint } from './label-sets.js'
import type { DropRemoved } from './config-series.js'
import { HANDSHAKE_REASONS } from '../tls/index.js'

/** Registers the upstream connection families on `registers` and returns their recorders; `configured` names the endpoints of the config in force, `dropRemoved` removes the series of the others at each read. */
export function createUpstreamMetrics(registers: Registry[], buckets: number[], configured: () => ReadonlySet<string>, dropRemoved: DropRemoved): Pick<Metrics, 'handshakeFailure' | 'upstreamConnection' | 'upstreamReuse' | 'upstreamRetry' | 'upstreamPoolEvicted'> {
  // Per-request counts are plain numbers added to prom-client at read time (pending-counts.ts).
  const pendingReuses = createPendingCounts<'endpoint'>()
  // Each configured endpoint's failure series exist at 0 for every reason: MtlsGatewayUpstreamHandshakeFailures sees its first burst.
  const zeroes = zeroSeriesPerEndpoint<'endpoint' | 'reason'>((endpoint) => HANDSHAKE_REASONS.map((reason) => ({ endpoint, reason })))
  const handshakeFailures = new Counter({ name: 'mtls_gateway_upstream_tls_handshake_failures_total', help: 'Requests failed by an upstream TLS handshake problem, by reason.', labelNames: ['endpoint', 'reason'] as const, registers, collect() { zeroes(this, configured()); dropRemoved(this) } })
  const connections = new Counter({ name: 'mtls_gateway_upstream_connections_total', help: 'New upstream TLS connections; resumed="true" when the TLS session was resumed.', labelNames: ['endpoint', 'resumed'] as const, registers, collect() { dropRemoved(this) } })
  new Counter({ name: 'mtls_gateway_upstream_connection_reuses_total', help: 'Requests sent on an already open upstream connection.', labelNames: ['endpoint'] as const, registers, collect() { pendingReuses.flush(this); dropRemoved(this) } })
  const retries = new Counter({ name: 'mtls_gateway_upstream_retries_total', help: 'Requests sent again after a reused upstream connection closed under them before any answer (idempotent, body held whole).', labelNames: ['endpoint'] as const, registers, collect() { dropRemoved(this) } })
  const evictions = new Counter({ name: 'mtls_gateway_upstream_pools_evicted_total', help: 'Idle upstream pools (and their kept-alive connections) closed to make room for another origin of the endpoint (endpoints[].originPools; one origin per tenant with {tenant} in the host).', labelNames: ['endpoint'] as const, registers, collect() { dropRemoved(this) } })
  const handshake = new Histogram({ name: 'mtls_gateway_upstream_tls_handshake_seconds', help: 'TCP connect + TLS handshake time of new upstream connections.', labelNames: ['endpoint'] as const, buckets, registers, collect() { dropRemoved(this) } })
  return {
    handshakeFailure: (endpoint, reason) => handshakeFailures.labels(endpoint, reason).inc(),
    upstreamConnection(endpoint, resumed, handshakeMs) {
      connections.labels(endpoint, String(resumed)).inc()
      handshake.labels(endpoint).observe(handshakeMs / 1000)
    },
    upstreamReuse: (endpoint) => void pendingReuses.slot(endpoint, () => ({ endpoint })).n++,
    upstreamRetry: (endpoint, attempts) => retries.labels(endpoint).inc(attempts),
    upstreamPoolEvicted: (endpoint) => evictions.labels(endpoint).inc(),
  }
}
