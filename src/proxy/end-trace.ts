/** Ends a request's spans from its record: only names and numbers from config and code reach them. */
import type { RequestTrace } from '../tracing/index.js'
import type { RequestRecord } from './listener.js'

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
