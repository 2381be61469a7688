/**
 * How many spans a shutdown that ran out of time dropped: the sampled spans that ended (what the
 * batch processor queues) less those the exporter handed back. A span processor placed before
 * the batch processor counts the first; the exporter counts the second.
 */
import type { Context } from '@opentelemetry/api'
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base'

// W3C trace-flags bit 0: the batch processor queues only sampled spans.
const SAMPLED = 1

/** The counting processor and the count of spans not yet handed back by the exporter. */
export interface UnexportedSpans {
  readonly processor: SpanProcessor
  unexported(): number
}

/** Counts ended sampled spans; `returned()` is the exporter's count of spans it handed back. */
export function countUnexported(returned: () => number): UnexportedSpans {
  let ended = 0
  // Built once per process (not per span).
  const processor: SpanProcessor = {
    onStart: (_span: Span, _context: Context) => undefined,
    onEnd: (span: ReadableSpan) => {
      if ((span.spanContext().traceFlags & SAMPLED) !== 0) ended++
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  }
  return { processor, unexported: () => Math.max(0, ended - returned()) }
}
