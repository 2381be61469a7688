/** What one finished request (or CONNECT) reports to metrics, the access log and its span. */
import type { GatewayError } from '../errors.js'
import type { SpanIds } from '../tracing/index.js'
import type { Mode, RequestFacts } from './pipeline.js'

/**
 * One finished request, as the listener and the CONNECT handler hand it to `onDone`; also a
 * caller's TLS handshake that never completed (caller-handshake.ts), which has no request.
 */
export interface RequestRecord {
  id: string
  mode: Mode | 'api' | 'other'
  method: string
  status: number
  durationMs: number
  facts: RequestFacts
  error?: GatewayError
  /** The caller's address: the TCP peer of its connection (a tunnel's inner requests: the tunnel's). */
  clientAddress?: string
  /** Bytes read from and written to the caller's connection for this request, headers included. */
  requestBytes?: number
  responseBytes?: number
  /** A caller's TLS handshake that never completed (no request): its log line is capped apart from requests'. */
  handshake?: true
  /** The span of a record with no server span of its own (a tunnel whose caller's handshake failed: the tunnel's), whose ids its line carries. */
  span?: SpanIds
  /** The path of a `/gateway/…` request (for its span's route template; never logged). */
  apiPath?: string
  /**
   * A pass-through CONNECT tunnel's destination (`host:port`, from the config): its record is
   * made when the tunnel closes, its duration is the tunnel's life and its bytes what it carried.
   */
  passThrough?: string
}
