/**
 * The bound on spans waiting for export, and the counts it keeps: a sampled span that ends is
 * handed to the batch processor only while fewer than `limit` are held between their end and the
 * exporter's answer (queued, or in an export not yet answered); past that it is dropped and
 * counted. So a flood of sampled requests (callers setting the sampled flag, with `parentBased`)
 * or a slow collector costs bounded memory and a visible count, never a growing queue. The count
 * of spans held is also what a shutdown that ran out of time drops.
 */
import type { Context } from '@opentelemetry/api'
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base'

// W3C trace-flags bit 0: the batch processor queues only sampled spans.
const SAMPLED = 1

/** The bounding processor, the count of spans not yet handed back by the exporter, and of spans dropped at the bound. */
export interface BoundedExport {
  readonly processor: SpanProcessor
  unexported(): number
  dropped(): number
}

/**
 * Passes spans to `batch` while fewer than `limit` are held; `returned()` is the exporter's count
 * of spans it handed back (sent or failed). `limit` at most the batch processor's maxQueueSize,
 * so that one never drops uncounted. `onDrop` hears of each drop (for the log's episodes).
 */
export function boundExport(batch: SpanProcessor, returned: () => number, limit: number, onDrop: () => void = () => {}): BoundedExport {
  let accepted = 0
  let dropped = 0
  // Built once per process (not per span).
  const processor: SpanProcessor = {
    onStart: (span: Span, context: Context) => batch.onStart(span, context),
    onEnd: (span: ReadableSpan) => {
      if ((span.spanContext().traceFlags & SAMPLED) === 0) return
      if (accepted - returned() >= limit) {
        dropped++
        onDrop()
        return
      }
      accepted++
      batch.onEnd(span)
    },
    forceFlush: () => batch.forceFlush(),
    shutdown: () => batch.shutdown(),
  }
  return { processor, unexported: () => Math.max(0, accepted - returned()), dropped: () => dropped }
}
