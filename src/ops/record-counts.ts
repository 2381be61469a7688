/**
 * What one request's record adds to the counters beside its duration sample: a failed upstream
 * handshake (also kept for the console), a refusal with a counter of its own, and the exemplar's
 * trace id.
 */
import type { RequestRecord } from '../proxy/listener.js'
import type { HandshakeRecorder } from './admin-facts.js'
import type { FdPressure } from './connection-events.js'
import type { Metrics } from './metrics.js'

/** An upstream TLS handshake that failed: counted, and kept as the endpoint's last failure (the console shows it). */
export function handshakeFailed(metrics: Metrics, handshakes: HandshakeRecorder, endpoint: string, reason: string): void {
  metrics.handshakeFailure(endpoint, reason)
  handshakes.failed(endpoint, reason)
}

/** The trace id a record's duration sample carries as its exemplar: its span's (its own, or a tunnel's), when sampled. */
export function exemplarTraceId(r: RequestRecord): string | undefined {
  const span = r.facts.trace ?? r.span
  return span?.sampled ? span.traceId : undefined
}

/** A refusal counted by its own reason: file descriptors exhausted (also a pressure condition), a way in listen.waysIn leaves out. */
export function countRefusal(r: RequestRecord, metrics: Metrics, fd: Pick<FdPressure, 'seen'>): void {
  if (r.error?.reason === 'fd_exhausted') fd.seen(), metrics.fdExhausted('request')
  else if (r.error?.reason === 'way_in_disabled') metrics.wayInRefusal(r.mode)
}
