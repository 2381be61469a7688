/** The span of an intercepted CONNECT tunnel: the parent of its inner requests that bring no context of their own. */
import type { IncomingHttpHeaders } from 'node:http'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api'
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions'
import { callerContext } from './caller-context.js'
import { hostInName, type ServerAuthority } from './server-authority.js'
import type { SpanIds } from './spans.js'

/** The span of one CONNECT tunnel; inner requests without their own context become its children. */
export interface TunnelTrace extends SpanIds {
  readonly context: Context
  /** The CONNECT target, the server its inner requests were addressed to. */
  readonly server: ServerAuthority
  /** Ends the span; `failure`: why the tunnel failed (the caller's TLS handshake), `type` a closed-set reason. */
  end(failure?: { type: string; message: string }): void
}

/** Starts the span of an intercepted CONNECT tunnel (`host` unbracketed, as server.address holds it). */
export function startTunnelTrace(tracer: Tracer, headers: IncomingHttpHeaders, host: string, port: number): TunnelTrace {
  const parent = callerContext(headers, ROOT_CONTEXT)
  const span = tracer.startSpan(`CONNECT ${hostInName(host)}`, {
    kind: SpanKind.SERVER,
    attributes: { [ATTR_HTTP_REQUEST_METHOD]: 'CONNECT', [ATTR_SERVER_ADDRESS]: host, [ATTR_SERVER_PORT]: port, 'mtls_gateway.mode': 'connect' },
  }, parent)
  const { traceId, spanId, traceFlags } = span.spanContext()
  return {
    traceId,
    spanId,
    sampled: (traceFlags & 1) === 1,
    context: trace.setSpan(parent, span),
    server: { address: host, port },
    end(failure) {
      if (failure) {
        span.setAttribute(ATTR_ERROR_TYPE, failure.type)
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message })
      }
      span.end()
    },
  }
}
