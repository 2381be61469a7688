/**
 * The per-request families: requests by endpoint, method and status class; request duration by
 * endpoint and way in (with trace-id exemplars once tracing is on); upstream duration; bytes
 * relayed. Slots are bound once per endpoint, so a request costs Map lookups and additions:
 * counters and histograms are plain numbers added to prom-client when read (pending-counts.ts,
 * pending-histograms.ts).
 */
import { Counter, Histogram, Registry } from 'prom-client'
import { createPendingCounts, type PendingSlot } from './pending-counts.js'
import { createPendingHistogram, type PendingHistogram, type PendingObservations } from './pending-histograms.js'
import { zeroSeriesPerEndpoint } from './label-sets.js'
import type { DropRemoved } from './config-series.js'

/** What one finished request adds besides its endpoint, method, status and durations. */
export interface RequestExtras {
  /** The way in: forward, connect, route (api and other for the gateway's own routes). */
  mode?: string
  /** Bytes received from the caller and sent back to it on this request (headers included). */
  requestBytes?: number
  responseBytes?: number
  /** The trace of a sampled request: becomes the duration histogram's exemplar. */
  traceId?: string
  /** A pass-through tunnel: its duration is how long it stayed open, not a response time, so it stays out of the duration histogram. */
  tunnel?: boolean
}

/** Records one finished request; `endpoint` undefined when none matched. */
export type RecordRequest = (endpoint: string | undefined, method: string, status: number, durationMs: number, upstreamMs?: number, extras?: RequestExtras) => void

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'])
/**
 * The endpoint label of a request matched to no endpoint: `_gateway` for the gateway API
 * (`/gateway/…`: its own 5xx are the store's, the OAuth provider's or a bug), `_none` for the rest
 * (refused before routing, pass-through tunnels, unknown routes). Endpoint names start with a
 * letter or digit (config schema), so no endpoint's label is ever one of these.
 */
export const GATEWAY_API_LABEL = '_gateway'
export const NO_ENDPOINT_LABEL = '_none'

/** The endpoint label of a request: its endpoint's name, else by its way in (`mode`) one of the reserved values above. */
export function endpointLabel(endpoint: string | undefined, mode: string | undefined): string {
  return endpoint ?? (mode === 'api' ? GATEWAY_API_LABEL : NO_ENDPOINT_LABEL)
}
const DURATION = 'mtls_gateway_request_duration_seconds'

/** A request method as a bounded label: anything unusual becomes "other". */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other'
}

/** 200 → "2xx"; 0 (no response written) → "none". */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none'
}

interface Bound {
  upstream: PendingObservations
  requests: Map<string, PendingSlot>
  durations: Map<string, PendingObservations>
  bytesIn: PendingSlot
  bytesOut: PendingSlot
}

type RequestLabels = 'endpoint' | 'method' | 'status_class'
/** Creates at 0 the 5xx series of every method label for each endpoint `configured` names, once each (MtlsGatewayHighErrorRatio sees an endpoint's first burst). */
export function zeroServerErrors(configured: () => ReadonlySet<string>): (counter: Counter<RequestLabels>) => void {
  const zero = zeroSeriesPerEndpoint<RequestLabels>((endpoint) => [...METHODS, 'other'].map((method) => ({ endpoint, method, status_class: '5xx' })))
  return (counter) => zero(counter, configured())
}

/** Registers the per-request families on `registry`; `beforeRead` runs on requests_total before each read (zeroServerErrors), `dropRemoved` on every family after it. */
export function createRequestMetrics(registry: Registry, buckets: number[], { beforeRead, dropRemoved }: { beforeRead: (requests: Counter<RequestLabels>) => void; dropRemoved: DropRemoved }): { request: RecordRequest; enableExemplars(): void } {
  const registers = [registry]
  const pendingRequests = createPendingCounts<'endpoint' | 'method' | 'status_class'>()
  const pendingBytes = createPendingCounts<'endpoint' | 'direction'>()
  new Counter({ name: 'mtls_gateway_requests_total', help: 'Requests answered, by endpoint, method and status class.', labelNames: ['endpoint', 'method', 'status_class'] as const, registers, collect() { beforeRead(this); pendingRequests.flush(this); dropRemoved(this) } })
  // Each duration histogram has its own slots: enabling exemplars replaces it (before any request).
  const durationOf = (enableExemplars: boolean): { histogram: Histogram<'endpoint' | 'mode'>; pending: PendingHistogram<'endpoint' | 'mode'> } => {
    const pending = createPendingHistogram<'endpoint' | 'mode'>(buckets)
    const histogram = new Histogram({ name: DURATION, help: 'Time from request arrival to the end of the response, by endpoint and way in (mode).', labelNames: ['endpoint', 'mode'] as const, buckets, registers, enableExemplars, collect() { pending.flush(this); dropRemoved(this) } })
    return { histogram, pending }
  }
  let duration = durationOf(false)
  let exemplars = false
  const pendingUpstream = createPendingHistogram<'endpoint'>(buckets)
  new Histogram({ name: 'mtls_gateway_upstream_duration_seconds', help: 'Time from sending upstream to the upstream response headers.', labelNames: ['endpoint'] as const, buckets, registers, collect() { pendingUpstream.flush(this); dropRemoved(this) } })
  new Counter({ name: 'mtls_gateway_relayed_bytes_total', help: 'Bytes received from callers (direction="in") and sent back to them (direction="out"), headers included, by endpoint.', labelNames: ['endpoint', 'direction'] as const, registers, collect() { pendingBytes.flush(this); dropRemoved(this) } })
  const bytesSlot = (endpoint: string, direction: 'in' | 'out'): PendingSlot => pendingBytes.slot(`${endpoint}\0${direction}`, () => ({ endpoint, direction }))
  const perEndpoint = new Map<string, Bound>()
  const bound = (endpoint: string): Bound => {
    let b = perEndpoint.get(endpoint)
    if (!b) {
      b = { upstream: pendingUpstream.slot({ endpoint }), requests: new Map(), durations: new Map(), bytesIn: bytesSlot(endpoint, 'in'), bytesOut: bytesSlot(endpoint, 'out') }
      perEndpoint.set(endpoint, b)
    }
    return b
  }
  const observeDuration = (b: Bound, endpoint: string, mode: string, seconds: number, traceId: string | undefined): void => {
    if (exemplars && traceId !== undefined) return duration.histogram.observe({ labels: { endpoint, mode }, value: seconds, exemplarLabels: { trace_id: traceId } as Record<string, string> })
    let h = b.durations.get(mode)
    if (!h) b.durations.set(mode, (h = duration.pending.slot({ endpoint, mode })))
    h.observe(seconds)
  }
  return {
    request(endpoint, method, status, durationMs, upstreamMs, extras = {}) {
      const name = endpointLabel(endpoint, extras.mode)
      const b = bound(name)
      const m = methodLabel(method)
      const cls = statusClass(status)
      const key = `${m} ${cls}`
      let counter = b.requests.get(key)
      if (!counter) b.requests.set(key, (counter = pendingRequests.slot(`${name}\0${key}`, () => ({ endpoint: name, method: m, status_class: cls }))))
      counter.n++
      if (extras.tunnel !== true) observeDuration(b, name, extras.mode ?? 'other', durationMs / 1000, extras.traceId)
      if (extras.requestBytes) b.bytesIn.n += extras.requestBytes
      if (extras.responseBytes) b.bytesOut.n += extras.responseBytes
      if (upstreamMs !== undefined && endpoint !== undefined) b.upstream.observe(upstreamMs / 1000)
    },
    enableExemplars() {
      if (exemplars) return
      exemplars = true
      registry.removeSingleMetric(DURATION)
      for (const b of perEndpoint.values()) b.durations.clear()
      // prom-client types a registry's content type as fixed; the switch is safe before the first scrape.
      ;(registry as unknown as { setContentType(t: string): void }).setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
      duration = durationOf(true)
    },
  }
}
