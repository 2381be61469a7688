/** A request's spans: started at its turn, ended from its record (only names and numbers from config and code reach them). */
import type { IncomingMessage } from 'node:http'
import type { Gateway } from '../gateway/index.js'
import type { RequestTrace, Tracing } from '../tracing/index.js'
import type { Tunnel } from './connect.js'
import type { RequestRecord } from './listener.js'
import type { Outcome } from './outcome.js'

/**
 * Starts the server span of a request on `out`, unless it has one. At its turn, the sampler settings of
 * `gateway` (the snapshot it is served under, not the one in force when Node parsed it) decide; a request
 * that never had a turn (refused, or its caller left while it waited) is decided under the settings in
 * force. The span starts when the request was parsed, so it covers the wait.
 */
export function traceRequest(tracing: Tracing | undefined, out: Outcome, req: IncomingMessage, at: { startedMs: number; tunnel: Tunnel | undefined; gateway?: Gateway }): void {
  if (!tracing || out.facts.trace) return
  const startTime = performance.timeOrigin + at.startedMs
  out.facts.trace = tracing.request(req.headers, at.tunnel?.trace, at.gateway ? { startTime, sampler: at.gateway.config.tracing.sampler } : { startTime })
}

/** Ends the server span (and the upstream call's client span) of a finished request. */
export function endTrace(trace: RequestTrace, r: RequestRecord): void {
  trace.end({
    method: r.method,
    status: r.status,
    mode: r.mode,
    path: r.apiPath,
    endpoint: r.facts.endpoint,
    caller: r.facts.caller,
    reason: r.error?.reason,
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    upstreamRetries: r.facts.upstreamRetries,
  })
}
