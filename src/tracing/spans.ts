/**
 * The spans of one request: the server span (continuing the caller's W3C context, or a CONNECT
 * tunnel's) and the client span of its upstream call. Contexts are passed
 * explicitly (no global context manager): nothing runs for a gateway with tracing off.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api'
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_NETWORK_PEER_ADDRESS, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions'
import { apiRoute } from './api-route.js'
import { callerContext, propagator, setter } from './caller-context.js'
import { withSamplerSettings, type SamplerConfig } from './sampler.js'
import { serverAuthority, type ServerAuthority } from './server-authority.js'
import type { TunnelTrace } from './tunnel-trace.js'

/** Outbound header map as the pipeline keeps it. */
export type HeaderMap = Record<string, string | string[]>

/** How a request ended, for the span attributes: names and numbers from config and code only. */
export interface RequestOutcome {
  method: string
  status: number
  mode: string
  /** The request path, for `/gateway/…` routes only (reduced to a route template, never kept). */
  path?: string
  endpoint?: string
  caller?: string
  reason?: string
  requestBytes?: number
  responseBytes?: number
  /** Times the upstream call was sent again after a reused connection closed under it. */
  upstreamRetries?: number
}

/** Which connection carried the upstream call (from the upstream observer, when ops run). */
export interface UpstreamConnection {
  address?: string
  tlsVersion?: string
  resumed?: boolean
  reused?: boolean
}

/** A span's ids, as an access line carries them (and sampled, for an exemplar). */
export interface SpanIds {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

/** The spans of one request. */
export interface RequestTrace extends SpanIds {
  /** Starts the upstream call's client span (`server`: the endpoint origin's, parsed once) and puts its `traceparent` (and the caller's `tracestate`) in `headers`. */
  upstream(headers: HeaderMap, target: { endpoint: string; server: ServerAuthority; method: string }): void
  /** A client span for a call the gateway makes itself (the OAuth dance's token calls): the headers carry its context. */
  call(method: string, origin: URL): CallSpan
  /** Records the connection the upstream call went over, for the client span. */
  connection(facts: UpstreamConnection | undefined): void
  /** Ends the client span (if any) and the server span; later calls do nothing. */
  end(outcome: RequestOutcome): void
}

/** One upstream call of an API request. */
export interface CallSpan {
  readonly headers: Readonly<Record<string, string>>
  end(status?: number, error?: string): void
}

/** When a request's server span starts (epoch ms), and the sampler settings that decide it (those of the snapshot it is served under). */
export interface RequestStart { startTime?: number; sampler?: SamplerConfig }

/** Starts the server span of a request. */
export function startRequestTrace(tracer: Tracer, headers: IncomingHttpHeaders, tunnel?: TunnelTrace, at: RequestStart = {}): RequestTrace {
  const fromCaller = callerContext(headers, ROOT_CONTEXT)
  const callerSpan = trace.getSpanContext(fromCaller)
  // Inside a tunnel the caller's own context wins (its trace stays whole); the tunnel is linked.
  const parent = withSamplerSettings(callerSpan ? fromCaller : (tunnel?.context ?? ROOT_CONTEXT), at.sampler)
  const tunnelSpan = tunnel ? trace.getSpanContext(tunnel.context) : undefined
  const server = tracer.startSpan('request', { kind: SpanKind.SERVER, attributes: addressedTo(tunnel), ...(at.startTime !== undefined ? { startTime: at.startTime } : {}), ...(callerSpan && tunnelSpan ? { links: [{ context: tunnelSpan }] } : {}) }, parent)
  const serverContext = trace.setSpan(parent, server)
  const { traceId, spanId, traceFlags } = server.spanContext()
  let client: Span | undefined
  let connection: UpstreamConnection | undefined
  let ended = false
  return {
    traceId,
    spanId,
    sampled: (traceFlags & 1) === 1,
    upstream(headers, target) {
      client = tracer.startSpan(`${target.method} ${target.endpoint}`, {
        kind: SpanKind.CLIENT,
        attributes: clientAttributes(target.method, target.server, target.endpoint),
      }, serverContext)
      delete headers.traceparent
      delete headers.tracestate
      propagator.inject(trace.setSpan(serverContext, client), headers, setter)
    },
    call(method, origin) {
      const span = tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes: clientAttributes(method, serverAuthority(origin)) }, serverContext)
      const headers: HeaderMap = {}
      propagator.inject(trace.setSpan(serverContext, span), headers, setter)
      return {
        headers: headers as Record<string, string>,
        end(status, error) {
          span.setAttributes(defined({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: status, [ATTR_ERROR_TYPE]: error ?? (status !== undefined && status >= 400 ? String(status) : undefined) }))
          if (error !== undefined || (status !== undefined && status >= 400)) span.setStatus({ code: SpanStatusCode.ERROR })
          span.end()
        },
      }
    },
    connection(facts) {
      connection = facts
    },
    end(o) {
      if (ended) return
      ended = true
      const failed = o.reason !== undefined || o.status >= 500
      if (client) endClient(client, o, connection)
      const route = o.mode === 'api' && o.path !== undefined ? apiRoute(o.path) : undefined
      server.updateName(o.method === NO_METHOD ? 'HTTP' : `${o.method} ${route ?? o.endpoint ?? o.mode}`)
      server.setAttributes(serverAttributes(o, route))
      if (failed) server.setStatus({ code: SpanStatusCode.ERROR, ...(o.reason ? { message: o.reason } : {}) })
      server.end()
    },
  }
}

/** An inner request was addressed to its tunnel's CONNECT target (HTTP server conventions: server.address/port). */
function addressedTo(tunnel: TunnelTrace | undefined): Attributes {
  return tunnel ? { [ATTR_SERVER_ADDRESS]: tunnel.server.address, [ATTR_SERVER_PORT]: tunnel.server.port } : {}
}

/** A client span's attributes at its start (the conventions want them there, for sampling). */
function clientAttributes(method: string, server: ServerAuthority, endpoint?: string): Attributes {
  return defined({ [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_SERVER_ADDRESS]: server.address, [ATTR_SERVER_PORT]: server.port, 'mtls_gateway.endpoint': endpoint })
}

/** The access line's method when no request line was read (not one Node parses): the HTTP conventions' unknown method. */
const NO_METHOD = '-'

function serverAttributes(o: RequestOutcome, route: string | undefined): Attributes {
  return defined({
    [ATTR_HTTP_REQUEST_METHOD]: o.method === NO_METHOD ? '_OTHER' : o.method,
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: o.status,
    [ATTR_HTTP_ROUTE]: route,
    // As the HTTP conventions name an error answer without another cause: its status code (a server's, from 500).
    [ATTR_ERROR_TYPE]: o.reason ?? (o.status >= 500 ? String(o.status) : undefined),
    'mtls_gateway.mode': o.mode,
    'mtls_gateway.endpoint': o.endpoint,
    'mtls_gateway.caller': o.caller,
    'http.request.size': o.requestBytes,
    'http.response.size': o.responseBytes,
  })
}

/**
 * Ends the upstream call's span. Failed (ERROR) on the gateway's own reason, and, as the HTTP client
 * conventions have it, on any answer from 400 up, its status code as `error.type` (a backend's 404 or
 * 429 left the span unset and without a type, where the `/gateway/` calls' spans had both).
 */
function endClient(client: Span, o: RequestOutcome, up: UpstreamConnection | undefined): void {
  const errorType = o.reason ?? (o.status >= 400 ? String(o.status) : undefined)
  client.setAttributes(
    defined({
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: o.reason === undefined ? o.status : undefined,
      [ATTR_ERROR_TYPE]: errorType,
      'mtls_gateway.mode': o.mode,
      [ATTR_NETWORK_PEER_ADDRESS]: up?.address,
      'tls.protocol.name': up?.tlsVersion ? 'tls' : undefined,
      'tls.protocol.version': up?.tlsVersion?.replace(/^TLSv/, ''),
      'tls.resumed': up?.resumed,
      'mtls_gateway.connection_reused': up?.reused,
      // OpenTelemetry's name for "this call was sent again", on the one client span.
      'http.request.resend_count': o.upstreamRetries,
    }),
  )
  if (errorType !== undefined) client.setStatus({ code: SpanStatusCode.ERROR, ...(o.reason ? { message: o.reason } : {}) })
  client.end()
}

function defined(a: Record<string, string | number | boolean | undefined>): Attributes {
  const out: Attributes = {}
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v
  return out
}
