/**
 * The process's tracer, built once at start from `tracing` (restart-only, except the
 * sampler, read from the snapshot at each decision). Off → undefined: callers test one
 * optional reference, the request path does nothing else, and the SDK is never loaded.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { TracingConfig } from '../config/index.js'
import type { ExportFailure, RenewableExporter } from './exporter.js'
import type { SamplerSettings } from './sampler.js'
import type { RequestStart, RequestTrace } from './spans.js'
import type { TunnelTrace } from './tunnel-trace.js'
import { dropEpisodes, type DropEpisodes } from './drop-episodes.js'
import { boundExport, type BoundedExport } from './unexported.js'

/** Most sampled spans held between their end and the exporter's answer (per process); more are dropped and counted. */
export const EXPORT_QUEUE_LIMIT = 4096

/** How long without a dropped span ends a drop episode (its count logged). */
const DROP_QUIET_MS = 30_000

/** Spans for a running gateway. */
export interface Tracing {
  /** The server span of a request (continuing the caller's traceparent, else the tunnel's span), sampled under `at.sampler` if given, else the settings in force. */
  request(headers: IncomingHttpHeaders, tunnel?: TunnelTrace, at?: RequestStart): RequestTrace
  /** The span of an intercepted CONNECT tunnel. */
  tunnel(headers: IncomingHttpHeaders, host: string, port: number): TunnelTrace
  /** Runs a `/gateway/…` handler so the upstream calls it makes (the OAuth dance's) become client spans of `trace`. */
  api<T>(trace: RequestTrace, fn: () => Promise<T>): Promise<T>
  /**
   * Exports what is buffered, then stops (drain and close call it). With `limitMs` (a drain's
   * budget) it waits at most that long, and no longer than `tracing.otlp.timeout`: a collector
   * that hangs or is unreachable costs the spans not yet sent (their count is returned), never
   * the drain.
   */
  shutdown(limitMs?: number): Promise<void>
  /**
   * Reads a reloaded config's `tracing.otlp.tls` files (throws a ConfigError for an unreadable
   * one) and returns what switches export to them once the reload is accepted; undefined when
   * nothing is exported.
   */
  renewExport(config: TracingConfig): (() => void) | undefined
  /** Sampled spans dropped so far because EXPORT_QUEUE_LIMIT were waiting for export (a flood, or a slow collector). */
  droppedSpans(): number
  /** Sampled spans lost in failed exports so far (the collector answered an error, or not within tracing.otlp.timeout). */
  failedExportSpans(): number
  /** Sampled spans in exports sent and not yet answered: one export (at most 512) at a time. */
  exportingSpans(): number
}

/** What startTracing needs besides the start config. */
export interface TracingOptions {
  /** The sampler settings in force (the current snapshot's `tracing.sampler`). */
  sampler: SamplerSettings
  /** Export failures (rate-limited). */
  onExportFailure: ExportFailure
  /**
   * A bounded shutdown gave up after `waitedMs`: `spans` sampled spans ended but were never handed
   * back by the exporter (queued or being sent), and are dropped.
   */
  onSpansDropped?: (spans: number, waitedMs: number) => void
  /** Spans started being dropped at EXPORT_QUEUE_LIMIT (once per episode, never per span). */
  onDropsStarted?: (limit: number) => void
  /** No span was dropped for `dropQuietMs` (or the tracer shut down): `spans` were dropped since onDropsStarted. */
  onDropsEnded?: (spans: number, quietMs: number) => void
  /** How long without a drop ends an episode (default 30 s). */
  dropQuietMs?: number
  /** The gateway's version, as `service.version`. */
  version: string
}

/** Builds the tracer provider and exporter; undefined when tracing is off. */
export async function startTracing(config: TracingConfig, o: TracingOptions): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined
  // Loaded here, not at the top: a gateway with tracing off never loads the SDK.
  const [{ BasicTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }, { createOtlpExporter }, { createSampler }, { traceApiCalls }, { startRequestTrace }, { startTunnelTrace }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('./exporter.js'),
    import('./sampler.js'),
    import('./api-calls.js'),
    import('./spans.js'),
    import('./tunnel-trace.js'),
  ])
  const exporter = config.otlp ? await createOtlpExporter(config.otlp, o.onExportFailure) : undefined
  const episodes = dropLog(o)
  const batch = exporter && config.otlp ? new BatchSpanProcessor(exporter, batchOptions(config.otlp.timeoutMs)) : undefined
  const sent = batch ? boundExport(batch, () => exporter?.returned() ?? 0, EXPORT_QUEUE_LIMIT, () => episodes.dropped()) : undefined
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: o.version, 'process.pid': process.pid }),
    sampler: createSampler(o.sampler),
    // Without an exporter spans still carry ids (logs, upstream context); nothing is kept.
    spanProcessors: sent ? [sent.processor] : [],
  })
  const tracer = provider.getTracer('mtls-gateway', o.version)
  const apiCalls = traceApiCalls()
  return {
    request: (headers, tunnel, at) => startRequestTrace(tracer, headers, tunnel, at),
    tunnel: (headers, host, port) => startTunnelTrace(tracer, headers, host, port),
    api: (trace, fn) => apiCalls.run(trace, fn),
    shutdown: async (limitMs) => {
      apiCalls.close()
      const bound = limitMs === undefined || !config.otlp ? undefined : Math.min(limitMs, config.otlp.timeoutMs)
      if (!(await settlesWithin(provider.shutdown(), bound)) && bound !== undefined) o.onSpansDropped?.(sent?.unexported() ?? 0, bound)
      episodes.close()
    },
    renewExport: (next) => (exporter && next.otlp ? exporter.renew(next.otlp) : undefined),
    ...exportCounts(sent, exporter),
  }
}

/** The tracer's counts of spans dropped at the bound, lost in failed exports, and in exports not yet answered. */
function exportCounts(sent: BoundedExport | undefined, exporter: RenewableExporter | undefined): Pick<Tracing, 'droppedSpans' | 'failedExportSpans' | 'exportingSpans'> {
  return {
    droppedSpans: () => sent?.dropped() ?? 0,
    failedExportSpans: () => exporter?.failed() ?? 0,
    exportingSpans: () => (exporter ? exporter.sent() - exporter.returned() : 0),
  }
}

/** Drop episodes reported through `o`'s hooks. */
function dropLog(o: TracingOptions): DropEpisodes {
  const quietMs = o.dropQuietMs ?? DROP_QUIET_MS
  return dropEpisodes({ started: () => o.onDropsStarted?.(EXPORT_QUEUE_LIMIT), ended: (spans) => o.onDropsEnded?.(spans, quietMs), quietMs })
}

/**
 * The batch processor's settings. Its export timeout is past the exporter's own: it waits for each
 * export's answer before it sends the next, so a hung collector holds one batch (512 spans) for at
 * most `tracing.otlp.timeout`, not one more every 30 s (the processor's default).
 */
const batchOptions = (timeoutMs: number): { scheduledDelayMillis: number; maxQueueSize: number; exportTimeoutMillis: number } => ({ scheduledDelayMillis: 1000, maxQueueSize: EXPORT_QUEUE_LIMIT, exportTimeoutMillis: timeoutMs + 1000 })

/** True when `p` settles (either way) within `limitMs` (undefined: waits for it); false when the time ran out. */
async function settlesWithin(p: Promise<unknown>, limitMs: number | undefined): Promise<boolean> {
  const settled = p.then(() => true, () => true)
  if (limitMs === undefined) return settled
  let timer: NodeJS.Timeout | undefined
  const ranOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), limitMs)))
  const result = await Promise.race([settled, ranOut])
  clearTimeout(timer)
  return result
}
