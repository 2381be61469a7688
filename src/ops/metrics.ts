/**
 * Prometheus metrics on a Registry passed in (never prom-client's global one), so two
 * gateways in one process — the tests — never share counters. Every label value comes from
 * config or code (endpoint names, reasons, methods): never a path, user, tenant or token.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { VALIDITY_REASONS } from '../tls/index.js'
import { registerBuildInfo } from './build-info.js'
import { createPendingCounts } from './pending-counts.js'
import { createRequestMetrics, type RequestExtras } from './request-metrics.js'
import { createReloadMetrics } from './reload-metrics.js'
import { ACCEPTING_LISTENERS, AUTH_FAILURE_LABELS, CONNECTION_REFUSAL_LABELS, EGRESS_REASON_LABELS, TUNNEL_KINDS } from './label-sets.js'

/** The prefix of the gateway's own metrics; Node's `process_*`/`nodejs_*` families stay unprefixed, as stock dashboards expect. */
export const METRIC_PREFIX = 'mtls_gateway_'
export { methodLabel, statusClass, type RequestExtras } from './request-metrics.js'

/** Certificate kinds exported as validity gauges. */
export type CertificateKind = 'client' | 'intermediate' | 'root' | 'server_root' | 'interception_ca' | 'listener' | 'admin_listener'

/** One certificate's validity period, as the expiry and not-before gauges export it. */
export interface CertificateValidity {
  endpoint: string
  kind: CertificateKind
  notBefore: Date
  notAfter: Date
}

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
  callerAuthFailure(reason: string): void
  oauthSignature(profile: string, method: string): void
  egressRefusal(reason: string): void
  /** A CONNECT tunnel opened (intercepted, pass_through) or refused. */
  tunnel(kind: string): void
  /** An interception leaf certificate was minted (the host is deliberately not a label). */
  leafMinted(ms: number): void
  configReload(result: 'success' | 'failure'): void
  /** Marks the config in force as loaded now (start-up and every good reload). */
  configLoaded(at?: Date): void
  /** Replaces every certificate expiry and not-before gauge (endpoints removed by a reload disappear). */
  setCertificateValidity(entries: readonly CertificateValidity[]): void
  inFlight(delta: 1 | -1): void
  /** A client connection closed by a listener limit (headers, body_idle, keep_alive, tls_handshake, …). */
  clientTimeout(listener: string, reason: string): void
  /** A new client connection refused (max_connections, per_address, fd_exhausted). */
  connectionRefused(listener: string, reason: string): void
  /** The process ran out of file descriptors (where: accept, request). */
  fdExhausted(where: 'accept' | 'request'): void
  /**
   * Reports `store_up` at every scrape by pinging the store (bounded by a timeout); the series
   * is absent while `isOpen` says no store is open (a reload may open one later).
   */
  watchStore(ping: () => Promise<void>, isOpen?: () => boolean): void
  /** Reports `endpoint_degraded` at every scrape from the snapshot in force, against the clock then. */
  watchDegradation(read: () => readonly { endpoint: string; reasons: readonly string[] }[]): void
  /** Reports `buffered_body_bytes` and `buffered_body_refusals_total` at every scrape from the process's budget. */
  watchBufferedBodies(budget: { readonly held: number; readonly refusals: number }): void
  /** Reports `connections_open{listener}` and `connections_max{listener}` at every scrape from the server. */
  watchConnections(listener: string, server: ConnectionCounter): void
  /** Reports `upstream_connections_open{endpoint}` and `upstream_requests_waiting{endpoint}` at every scrape from the snapshot in force. */
  watchUpstreamPools(read: () => readonly { endpoint: string; connected: number; waiting: number }[]): void
}

/** What a scrape asks a listening server: its open connections (Node's count: TLS handshakes and CONNECT tunnels included) and its cap. */
export interface ConnectionCounter {
  getConnections(cb: (err: Error | null, count: number) => void): unknown
  readonly maxConnections?: number | undefined
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Registers every gateway metric on the registry and returns the recording functions. */
export function createMetrics(o: MetricsOptions = {}): Metrics {
  const registry = o.registry ?? new Registry()
  const registers = [registry]
  const p = METRIC_PREFIX
  if (o.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  registerBuildInfo(registry)
  const perRequest = createRequestMetrics(registry, LATENCY_BUCKETS)
  // Per-request counts are plain numbers added to prom-client at read time (pending-counts.ts).
  const pendingReuses = createPendingCounts<'endpoint'>()
  const pendingSignatures = createPendingCounts<'profile' | 'method'>()
  let inFlightNow = 0
  const handshakeFailures = new Counter({ name: `${p}upstream_tls_handshake_failures_total`, help: 'Requests failed by an upstream TLS handshake problem, by reason.', labelNames: ['endpoint', 'reason'] as const, registers })
  const connections = new Counter({ name: `${p}upstream_connections_total`, help: 'New upstream TLS connections; resumed="true" when the TLS session was resumed.', labelNames: ['endpoint', 'resumed'] as const, registers })
  const reuses = new Counter({ name: `${p}upstream_connection_reuses_total`, help: 'Requests sent on an already open upstream connection.', labelNames: ['endpoint'] as const, registers, collect() { pendingReuses.flush(this) } })
  const retries = new Counter({ name: `${p}upstream_retries_total`, help: 'Requests sent again after a reused upstream connection closed under them before any answer (idempotent, body held whole).', labelNames: ['endpoint'] as const, registers })
  const handshake = new Histogram({ name: `${p}upstream_tls_handshake_seconds`, help: 'TCP connect + TLS handshake time of new upstream connections.', labelNames: ['endpoint'] as const, buckets: LATENCY_BUCKETS, registers })
  const callerAuth = new Counter({ name: `${p}caller_auth_failures_total`, help: 'Callers refused, by reason.', labelNames: ['reason'] as const, registers })
  const oauth = new Counter({ name: `${p}oauth_signatures_total`, help: 'OAuth 1.0a signatures made, by profile and signature method.', labelNames: ['profile', 'method'] as const, registers, collect() { pendingSignatures.flush(this) } })
  const tunnels = new Counter({ name: `${p}connect_tunnels_total`, help: 'CONNECT tunnels, by kind (intercepted, pass_through, refused).', labelNames: ['kind'] as const, registers })
  const mints = new Histogram({ name: `${p}interception_leaf_mint_seconds`, help: 'Time to mint an interception leaf certificate (cache misses).', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers })
  const egress = new Counter({ name: `${p}egress_refusals_total`, help: 'Upstream destinations refused by the egress policy, by reason.', labelNames: ['reason'] as const, registers })
  const reloadMetrics = createReloadMetrics(registry)
  const expiry = new Gauge({ name: `${p}certificate_expiry_timestamp_seconds`, help: 'Unix time a certificate expires, by endpoint and kind (earliest across tenant bundles).', labelNames: ['endpoint', 'kind'] as const, aggregator: 'min', registers })
  // A certificate not valid yet is as unusable as an expired one; its start is the signal.
  const notBefore = new Gauge({ name: `${p}certificate_not_before_timestamp_seconds`, help: 'Unix time a certificate becomes valid, by endpoint and kind (latest across tenant bundles).', labelNames: ['endpoint', 'kind'] as const, aggregator: 'max', registers })
  new Gauge({ name: `${p}requests_in_flight`, help: 'Requests being served.', registers, collect() { this.set(inFlightNow) } })
  const timeouts = new Counter({ name: `${p}client_timeouts_total`, help: 'Client connections closed by a listener limit, by listener and reason.', labelNames: ['listener', 'reason'] as const, registers })
  const refused = new Counter({ name: `${p}connections_refused_total`, help: 'New client connections refused, by listener and reason.', labelNames: ['listener', 'reason'] as const, registers })
  const fd = new Counter({ name: `${p}fd_exhausted_total`, help: 'Times the process ran out of file descriptors, by where (accept, request).', labelNames: ['where'] as const, registers })
  let storePing: (() => Promise<void>) | undefined
  let storeOpen: () => boolean = () => true
  // Registered only once a store is watched: an unlabelled gauge always shows a value (0), and
  // `store_up 0` on a gateway without a store would page the store alert for nothing.
  const registerStoreUp = (): void => {
    const gauge = new Gauge({
      name: `${p}store_up`,
      help: '1 when the store (SQLite or Redis) answers a ping at scrape time, 0 when it does not; absent without a store.',
      aggregator: 'min',
      registers,
      async collect() {
        if (storePing && storeOpen()) this.set((await pingWithin(storePing, 2000)) ? 1 : 0)
      },
    })
    // An unlabelled gauge always has a sample: drop it while no store is open.
    const read = gauge.get.bind(gauge)
    gauge.get = async () => {
      const m = await read()
      // Per scrape (not per request).
      return storeOpen() ? m : { ...m, values: [] }
    }
  }
  let bufferedBodies: Parameters<Metrics['watchBufferedBodies']>[0] | undefined
  new Gauge({ name: `${p}buffered_body_bytes`, help: 'Bytes of request bodies held whole in memory now (limits.maxBufferedTotal bounds them per process).', aggregator: 'sum', registers, collect() { this.set(bufferedBodies?.held ?? 0) } })
  // Per listener, read at scrape time; summed over workers, so open / max is the instance's use of its caps.
  const connectionCounters = new Map<string, ConnectionCounter>()
  new Gauge({
    name: `${p}connections_open`,
    help: 'Client connections open now, by listener (TLS handshakes and CONNECT tunnels included); listen.connections.max caps them per process.',
    labelNames: ['listener'] as const,
    aggregator: 'sum',
    registers,
    async collect() {
      for (const [listener, server] of connectionCounters) {
        const n = await new Promise<number>((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)))
        this.set({ listener }, n)
      }
    },
  })
  new Gauge({
    name: `${p}connections_max`,
    help: 'The cap on client connections open at once, by listener (listen.connections.max per process; summed over workers).',
    labelNames: ['listener'] as const,
    aggregator: 'sum',
    registers,
    collect() {
      for (const [listener, server] of connectionCounters) {
        const max = server.maxConnections
        if (max !== undefined && Number.isFinite(max) && max > 0) this.set({ listener }, max)
      }
    },
  })
  // The snapshot in force's pools (an endpoint a reload removed disappears); summed over workers.
  let readPools: Parameters<Metrics['watchUpstreamPools']>[0] = () => []
  const poolGauge = (name: string, help: string, value: (p: { connected: number; waiting: number }) => number): Gauge<'endpoint'> =>
    new Gauge({
      name: `${p}${name}`,
      help,
      labelNames: ['endpoint'] as const,
      aggregator: 'sum',
      registers,
      collect() {
        this.reset()
        for (const pool of readPools()) this.set({ endpoint: pool.endpoint }, value(pool))
      },
    })
  poolGauge('upstream_connections_open', 'Upstream connections open now, by endpoint (endpoints[].connections caps them per origin and process).', (x) => x.connected)
  poolGauge('upstream_requests_waiting', 'Requests waiting for an upstream connection now, by endpoint: every connection the endpoint may open is busy.', (x) => x.waiting)
  let refusalsSeen = 0
  new Counter({
    name: `${p}buffered_body_refusals_total`,
    help: 'Requests answered 503 (buffered_bodies_full) because their body would pass limits.maxBufferedTotal.',
    aggregator: 'sum',
    registers,
    collect() {
      const now = bufferedBodies?.refusals ?? 0
      if (now > refusalsSeen) this.inc(now - refusalsSeen)
      refusalsSeen = now
    },
  })
  let readDegradation: Parameters<Metrics['watchDegradation']>[0] | undefined
  new Gauge({
    name: `${p}endpoint_degraded`,
    help: '1 when the endpoint refuses every call for this reason (a certificate of its bundle expired or not yet valid), else 0.',
    labelNames: ['endpoint', 'reason'] as const,
    aggregator: 'max',
    registers,
    collect() {
      this.reset()
      for (const { endpoint, reasons } of readDegradation?.() ?? []) {
        for (const reason of VALIDITY_REASONS) this.labels(endpoint, reason).set(reasons.includes(reason) ? 1 : 0)
      }
    },
  })
  for (const r of AUTH_FAILURE_LABELS) callerAuth.labels(r).inc(0)
  for (const r of EGRESS_REASON_LABELS) egress.labels(r).inc(0)
  for (const k of TUNNEL_KINDS) tunnels.labels(k).inc(0)
  for (const listener of ACCEPTING_LISTENERS) for (const r of CONNECTION_REFUSAL_LABELS) refused.labels(listener, r).inc(0)
  let droppedSeen = 0
  new Counter({
    name: `${p}log_lines_dropped_total`,
    help: 'Log lines dropped because stdout took no writes while too many were waiting (a log reader that stopped).',
    aggregator: 'sum',
    registers,
    collect() {
      const now = o.droppedLogLines?.() ?? 0
      if (now <= droppedSeen) return
      this.inc(now - droppedSeen)
      droppedSeen = now
    },
  })
  // The cluster primary counts replaced workers under the same name; summed with these zeros.
  new Counter({ name: `${p}worker_restarts_total`, help: 'Workers replaced after they exited unexpectedly.', aggregator: 'sum', registers })
  return {
    registry,
    request: perRequest.request,
    enableExemplars: perRequest.enableExemplars,
    handshakeFailure: (endpoint, reason) => handshakeFailures.labels(endpoint, reason).inc(),
    upstreamConnection(endpoint, resumed, handshakeMs) {
      connections.labels(endpoint, String(resumed)).inc()
      handshake.labels(endpoint).observe(handshakeMs / 1000)
    },
    upstreamReuse: (endpoint) => void pendingReuses.slot(endpoint, () => ({ endpoint })).n++,
    upstreamRetry: (endpoint, attempts) => retries.labels(endpoint).inc(attempts),
    callerAuthFailure: (reason) => callerAuth.labels(reason).inc(),
    oauthSignature: (profile, method) => void pendingSignatures.slot(`${profile}\0${method}`, () => ({ profile, method })).n++,
    egressRefusal: (reason) => egress.labels(reason).inc(),
    tunnel: (kind) => tunnels.labels(kind).inc(),
    leafMinted: (ms) => mints.observe(ms / 1000),
    ...reloadMetrics,
    setCertificateValidity(entries) {
      // Several intermediates or tenant bundles share a label set: the earliest expiry and the
      // latest start are the ones to alert on.
      const ends = new Map<string, { e: CertificateValidity; at: number }>()
      const starts = new Map<string, { e: CertificateValidity; at: number }>()
      for (const e of entries) {
        const key = `${e.endpoint}\0${e.kind}`
        const end = ends.get(key)
        if (!end || e.notAfter.getTime() < end.at) ends.set(key, { e, at: e.notAfter.getTime() })
        const start = starts.get(key)
        if (!start || e.notBefore.getTime() > start.at) starts.set(key, { e, at: e.notBefore.getTime() })
      }
      expiry.reset()
      notBefore.reset()
      for (const { e, at } of ends.values()) expiry.labels(e.endpoint, e.kind).set(Math.floor(at / 1000))
      for (const { e, at } of starts.values()) notBefore.labels(e.endpoint, e.kind).set(Math.floor(at / 1000))
    },
    inFlight: (delta) => void (inFlightNow += delta),
    clientTimeout: (listener, reason) => timeouts.labels(listener, reason).inc(),
    connectionRefused: (listener, reason) => refused.labels(listener, reason).inc(),
    fdExhausted: (where) => fd.labels(where).inc(),
    watchStore(ping, isOpen) {
      if (!storePing) registerStoreUp()
      storePing = ping
      storeOpen = isOpen ?? (() => true)
    },
    watchDegradation(read) {
      readDegradation = read
    },
    watchBufferedBodies(budget) {
      bufferedBodies = budget
    },
    watchConnections(listener, server) {
      connectionCounters.set(listener, server)
    },
    watchUpstreamPools(read) {
      readPools = read
    },
  }
}

/** True when `ping` resolves within `ms`. */
async function pingWithin(ping: () => Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([ping().then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

