/**
 * Prometheus metrics on a Registry passed in (never prom-client's global one), so two
 * gateways in one process — the tests — never share counters. Every label value comes from
 * config or code (endpoint names, reasons, methods): never a path, user, tenant or token.
 */
import { Registry, collectDefaultMetrics } from 'prom-client'
import { registerBuildInfo } from './build-info.js'
import { createClientMetrics } from './client-metrics.js'
import { createSeriesPruner, dropRemovedSeries, type ConfigNames } from './config-series.js'
import { createCertificateMetrics, type CertificateValidity, type TlsFileValidity } from './certificate-metrics.js'
import { createRequestMetrics, zeroServerErrors, type RequestExtras } from './request-metrics.js'
import { createReloadMetrics } from './reload-metrics.js'
import { createRequestPathMetrics } from './request-path-metrics.js'
import { createUpstreamMetrics } from './upstream-metrics.js'
import { createWatchedMetrics } from './watched-metrics.js'
import { createWorkerCounters } from './worker-counters.js'
import type { AuthFailure } from '../callers/index.js'
import type { ResealedKind } from '../store/index.js'
import type { ConsoleRefusal, FD_EXHAUSTION_SITES, SpanDropReason } from './label-sets.js'

/** The prefix of the gateway's own metrics; Node's `process_*`/`nodejs_*` families stay unprefixed, as stock dashboards expect. */
export const METRIC_PREFIX = 'mtls_gateway_'
export { endpointLabel, GATEWAY_API_LABEL, methodLabel, NO_ENDPOINT_LABEL, statusClass, type RequestExtras } from './request-metrics.js'
export type { CertificateKind, CertificateValidity } from './certificate-metrics.js'

/** Where metrics register and whether Node process metrics are collected. */
export interface MetricsOptions {
  /** Defaults to a new Registry. */
  registry?: Registry
  /** Node process metrics (default true). */
  defaultMetrics?: boolean
  /** Log lines dropped so far (the log's own count), read at scrape time. */
  droppedLogLines?: () => number
}

/** The functions the rest of the gateway calls; label values must be a closed set from code or config. */
export interface Metrics {
  readonly registry: Registry
  /** One finished request; `endpoint` undefined when no endpoint matched. */
  request(endpoint: string | undefined, method: string, status: number, durationMs: number, upstreamMs?: number, extras?: RequestExtras): void
  /** Exemplars (trace ids) on the request-duration histogram; switches the exposition to OpenMetrics. Call before the first request. */
  enableExemplars(): void
  handshakeFailure(endpoint: string, reason: string): void
  /** A new upstream TLS connection (resumed: TLS session resumption). */
  upstreamConnection(endpoint: string, resumed: boolean, handshakeMs: number): void
  /** A request sent on an already open (keep-alive) upstream connection. */
  upstreamReuse(endpoint: string): void
  /** A request sent again (`attempts` more times) after reused connections closed under it. */
  upstreamRetry(endpoint: string, attempts: number): void
  /** An upstream pool closed to make room for another origin of the endpoint (endpoints[].originPools). */
  upstreamPoolEvicted(endpoint: string): void
  callerAuthFailure(reason: AuthFailure): void
  oauthSignature(profile: string, method: string): void
  egressRefusal(reason: string): void
  /** A request or CONNECT refused because listen.waysIn leaves its way in out (`way`: forward, connect, route, api). */
  wayInRefusal(way: string): void
  /** A CONNECT tunnel opened (intercepted, pass_through) or refused. */
  tunnel(kind: string): void
  /** An interception leaf certificate was minted (the host is deliberately not a label). */
  leafMinted(ms: number): void
  configReload(result: 'success' | 'failure'): void
  /** Marks the config in force as loaded now (start-up and every good reload). */
  configLoaded(at?: Date): void
  /** Replaces every certificate expiry and not-before gauge (endpoints removed by a reload disappear). */
  setCertificateValidity(entries: readonly CertificateValidity[]): void
  /** Replaces the TLS-file expiry gauge (a file a reload no longer uses disappears). */
  setTlsFileValidity(entries: readonly TlsFileValidity[]): void
  /** Adds the validity periods `read` gives at each scrape (ones that follow the traffic: the server root in use). */
  watchCertificateValidity(read: () => readonly CertificateValidity[]): void
  inFlight(delta: 1 | -1): void
  /** A client connection closed by a listener limit (headers, body_idle, keep_alive, tls_handshake, …). */
  clientTimeout(listener: string, reason: string): void
  /** A new client connection refused (max_connections, per_address, fd_exhausted). */
  connectionRefused(listener: string, reason: string): void
  /** The process ran out of file descriptors (where: accept, request). */
  fdExhausted(where: (typeof FD_EXHAUSTION_SITES)[number]): void
  /** A console request refused before any sign-in (its audit line may be capped; this counts it). */
  consoleRefusal(reason: ConsoleRefusal): void
  /** A record read under a seal key no longer active, sealed again under the active one (store_records_resealed_total{kind}). */
  recordResealed(kind: ResealedKind): void
  /**
   * Reports `store_up` at every scrape by pinging the store (bounded by a timeout); the series
   * is absent while `isOpen` says no store is open (a reload may open one later). With
   * `evictionRisk`, `store_eviction_allowed` too (absent while it throws: cannot tell). With
   * `failoverWatch`, `store_failover_watch_sentinels{state}` (absent while it says none: no Sentinel).
   */
  watchStore(ping: () => Promise<void>, isOpen?: () => boolean, evictionRisk?: () => Promise<string | undefined>, failoverWatch?: () => { following: number; refused: number } | undefined): void
  /** Reports `endpoint_degraded` at every scrape from the snapshot in force, against the clock then. */
  watchDegradation(read: () => readonly { endpoint: string; reasons: readonly string[] }[]): void
  /** Reports `buffered_body_bytes` and `buffered_body_refusals_total` at every scrape from the process's budget. */
  watchBufferedBodies(budget: { readonly held: number; readonly refusals: number }): void
  /** Reports `connections_open{listener}` and `connections_max{listener}` at every scrape from the server. */
  watchConnections(listener: string, server: ConnectionCounter): void
  /** Reports `upstream_connections_open{endpoint}` and `upstream_requests_waiting{endpoint}` at every scrape from the snapshot in force. */
  watchUpstreamPools(read: () => readonly { endpoint: string; connected: number; waiting: number }[]): void
  /**
   * The endpoint and profile names of the config in force, read at every scrape: each endpoint's
   * 5xx and handshake-failure series start at 0, and the series of an endpoint or profile it no
   * longer has are removed (config-series.ts). Undefined before the first config: nothing removed.
   */
  watchConfigNames(read: () => ConfigNames | undefined): void
  /** Removes at once the series of the endpoints and profiles the config in force lacks (at each adoption; every read does too). */
  dropRemovedSeries(): void
  /** Reports `trace_spans_dropped_total{reason}` at every scrape from the tracer's counts (spans dropped at the export queue's bound, spans lost in failed exports). */
  watchDroppedSpans(counts: () => Readonly<Record<SpanDropReason, number>>): void
}

/** What a scrape asks a listener: its open connections (Node's count: TLS handshakes and CONNECT tunnels included) and its connection cap (the proxy's own, never Node's maxConnections). */
export interface ConnectionCounter {
  getConnections(cb: (err: Error | null, count: number) => void): unknown
  readonly maxConnections?: number | undefined
}

// Before the first config: no endpoint to give zero series.
const NO_NAMES: ReadonlySet<string> = new Set()
// Past the 30 s default of endpoints[].timeouts.response: a backend given longer, and responses streamed for minutes, stay measurable (histogram_quantile answers the largest finite bound for anything in +Inf).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
/** Registers every gateway metric on the registry and returns the recording functions. */
export function createMetrics(o: MetricsOptions = {}): Metrics {
  const registry = o.registry ?? new Registry()
  const registers = [registry]
  if (o.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  registerBuildInfo(registry)
  // Registration order is exposition order: the families below appear on /metrics as listed.
  let configured: () => ConfigNames | undefined = () => undefined
  const endpoints = (): ReadonlySet<string> => configured()?.endpoints ?? NO_NAMES
  const dropRemoved = createSeriesPruner(() => configured())
  const perRequest = createRequestMetrics(registry, LATENCY_BUCKETS, { beforeRead: zeroServerErrors(endpoints), dropRemoved })
  const upstream = createUpstreamMetrics(registers, LATENCY_BUCKETS, endpoints, dropRemoved)
  const requestPath = createRequestPathMetrics(registers, dropRemoved)
  const reload = createReloadMetrics(registry)
  const certificates = createCertificateMetrics(registers)
  const clients = createClientMetrics(registers)
  const watched = createWatchedMetrics(registers, o.droppedLogLines)
  // The cluster primary counts replaced workers under the same names; summed with these zeros.
  createWorkerCounters(registers)
  // Built once at start-up (not per request).
  const watchConfigNames = (read: () => ConfigNames | undefined): void => void (configured = read)
  return { registry, request: perRequest.request, enableExemplars: perRequest.enableExemplars, watchConfigNames, dropRemovedSeries: () => dropRemovedSeries(registry), ...upstream, ...requestPath, ...reload, ...certificates, ...clients, ...watched }
}
