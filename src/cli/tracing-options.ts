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
    version: gatewayVersion(),
  }
}
