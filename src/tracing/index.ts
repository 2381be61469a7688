/** Distributed tracing: W3C Trace Context, OpenTelemetry spans, OTLP export. Off by default. */
export { startTracing, type Tracing, type TracingOptions } from './tracing.js'
export { apiRoute } from './api-route.js'
export type { CallSpan, HeaderMap, RequestOutcome, RequestTrace, SpanIds, UpstreamConnection } from './spans.js'
export type { TunnelTrace } from './tunnel-trace.js'
export { otlpTlsProblems } from './exporter.js'
export { serverAuthority, type ServerAuthority } from './server-authority.js'
