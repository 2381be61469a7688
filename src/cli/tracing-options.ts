/** How `serve` starts the tracer: the sampler read from the snapshot in force, and its warnings in the gateway's log. */
import type { Logger } from 'pino'
import type { TracingOptions } from '../tracing/index.js'
import type { GatewayRef } from '../proxy/listener.js'
import { gatewayVersion } from '../process/index.js'

/** The tracer's hooks: the sampler in force, and its warnings in the gateway's log. */
export function tracingOptions(ref: GatewayRef, logger: Logger | undefined): TracingOptions {
  return {
    sampler: () => ref.current.config.tracing.sampler,
    onExportFailure: (problem) => logger?.warn({ problem }, 'tracing: span export failed'),
    onSpansDropped: (spans, waitedMs) => logger?.warn({ spans, waitedMs, problem: 'the collector did not take them within tracing.otlp.timeout or what drain.grace left' }, 'tracing: spans not exported at shutdown'),
    onDropsStarted: (limit) => logger?.warn({ limit, problem: `${limit} sampled spans already wait for the collector (a flood of sampled requests, or a slow or hung collector): spans are dropped and counted in mtls_gateway_trace_spans_dropped_total until they clear` }, 'tracing: dropping spans'),
    onDropsEnded: (spans, quietMs) => logger?.warn({ spans, quietMs }, 'tracing: spans no longer dropped'),
    version: gatewayVersion(),
  }
}
