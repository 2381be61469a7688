/**
 * The families read at scrape time from what the gateway hands over once (and a reload may
 * replace): buffered request bodies, client connections per listener, upstream pools,
 * degraded endpoints, the store, the log's dropped lines and the tracer's dropped spans. Nothing
 * here runs per request.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import { VALIDITY_REASONS } from '../tls/index.js'
import { SPAN_DROP_REASONS } from './label-sets.js'
import type { ConnectionCounter, Metrics } from './metrics.js'
import { createStoreWatch } from './store-up.js'

const SPANS_DROPPED_HELP = 'Sampled spans never exported, by reason: queue_full (4096 were already waiting for the collector: a flood of sampled requests, or a slow or unreachable collector), export_failed (in an export the collector answered with an error or not within tracing.otlp.timeout); per process.'

type WatchedRecorders = Pick<Metrics, 'watchStore' | 'watchDegradation' | 'watchBufferedBodies' | 'watchConnections' | 'watchUpstreamPools' | 'watchDroppedSpans'>

/** Registers the scrape-time families on `registers` (store_up once a store is watched) and returns the recorders that say what to read. */
export function createWatchedMetrics(registers: Registry[], droppedLogLines: (() => number) | undefined): WatchedRecorders {
  let bufferedBodies: Parameters<Metrics['watchBufferedBodies']>[0] | undefined
  new Gauge({ name: 'mtls_gateway_buffered_body_bytes', help: 'Bytes of request bodies held whole in memory now (limits.maxBufferedTotal bounds them per process).', aggregator: 'sum', registers, collect() { this.set(bufferedBodies?.held ?? 0) } })
  const watchConnections = registerConnectionGauges(registers)
  const watchUpstreamPools = registerPoolGauges(registers)
  // A reload may hand over a fresh budget counting from 0: its refusals count from there.
  registerFollowedCounter(registers, { name: 'mtls_gateway_buffered_body_refusals_total', help: 'Requests answered 503 (buffered_bodies_full) because their body would pass limits.maxBufferedTotal.', count: () => bufferedBodies?.refusals ?? 0, onDrop: 'rebase' })
  const watchDegradation = registerDegradationGauge(registers)
  // The log's count only grows (one log per process): a lower read is never a new base.
  registerFollowedCounter(registers, { name: 'mtls_gateway_log_lines_dropped_total', help: 'Log lines dropped because stdout took no writes while too many were waiting (a log reader that stopped).', count: () => droppedLogLines?.() ?? 0, onDrop: 'hold' })
  // The tracer's counts only grow (one tracer per process, restart-only; a reload that renews the exporter keeps its counts).
  let droppedSpans: Parameters<Metrics['watchDroppedSpans']>[0] = () => ({ queue_full: 0, export_failed: 0 })
  registerFollowedCounters(registers, { name: 'mtls_gateway_trace_spans_dropped_total', help: SPANS_DROPPED_HELP, label: 'reason', values: SPAN_DROP_REASONS, count: (reason) => droppedSpans()[reason], onDrop: 'hold' })
  return {
    watchStore: createStoreWatch(registers),
    watchDroppedSpans(count) {
      droppedSpans = count
    },
    watchDegradation,
    watchBufferedBodies(budget) {
      bufferedBodies = budget
    },
    watchConnections,
    watchUpstreamPools,
  }
}

/** `connections_open` and `connections_max` by listener; returns `watchConnections`. */
function registerConnectionGauges(registers: Registry[]): Metrics['watchConnections'] {
  // Per listener, read at scrape time; summed over workers, so open / max is the instance's use of its caps.
  const connectionCounters = new Map<string, ConnectionCounter>()
  new Gauge({
    name: 'mtls_gateway_connections_open',
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
    name: 'mtls_gateway_connections_max',
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
  return (listener, server) => void connectionCounters.set(listener, server)
}

/** `upstream_connections_open` and `upstream_requests_waiting` by endpoint; returns `watchUpstreamPools`. */
function registerPoolGauges(registers: Registry[]): Metrics['watchUpstreamPools'] {
  // The snapshot in force's pools (an endpoint a reload removed disappears); summed over workers.
  let readPools: Parameters<Metrics['watchUpstreamPools']>[0] = () => []
  const poolGauge = (name: string, help: string, value: (p: { connected: number; waiting: number }) => number): Gauge<'endpoint'> =>
    new Gauge({
      name: `mtls_gateway_${name}`,
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
  return (read) => void (readPools = read)
}

/**
 * What a followed counter does when its source's count goes down: `rebase` takes the lower
 * count as the new base (a source that was replaced and counts from 0 again: its next
 * increments are counted), `hold` keeps the highest count seen (increments are counted only
 * past it, so a source that reads low for a while never counts the same events twice).
 */
export type CountDrop = 'rebase' | 'hold'

/** What a followed count added since the last read (`onDrop` says what a lower read does). */
function follower(count: () => number, onDrop: CountDrop): () => number {
  let seen = 0
  return () => {
    const now = count()
    const added = Math.max(0, now - seen)
    if (now > seen || onDrop === 'rebase') seen = now
    return added
  }
}

/** A counter family that follows a count kept elsewhere (read at scrape time), adding only its increases. */
export function registerFollowedCounter(registers: Registry[], o: { name: string; help: string; count: () => number; onDrop: CountDrop }): void {
  const added = follower(o.count, o.onDrop)
  new Counter({ name: o.name, help: o.help, aggregator: 'sum', registers, collect() { this.inc(added()) } })
}

/** A family labelled `label`, each of its `values` a series following its own count as registerFollowedCounter's; every series exists from 0. */
export function registerFollowedCounters<V extends string>(registers: Registry[], o: { name: string; help: string; label: string; values: readonly V[]; count: (value: V) => number; onDrop: CountDrop }): void {
  const series = o.values.map((value) => ({ labels: { [o.label]: value }, added: follower(() => o.count(value), o.onDrop) }))
  new Counter({ name: o.name, help: o.help, labelNames: [o.label], aggregator: 'sum', registers, collect() { for (const x of series) this.inc(x.labels, x.added()) } })
}

/** `endpoint_degraded` by endpoint and validity reason; returns `watchDegradation`. */
function registerDegradationGauge(registers: Registry[]): Metrics['watchDegradation'] {
  let readDegradation: Parameters<Metrics['watchDegradation']>[0] | undefined
  new Gauge({
    name: 'mtls_gateway_endpoint_degraded',
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
  return (read) => void (readDegradation = read)
}
