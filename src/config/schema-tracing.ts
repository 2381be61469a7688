/**
 * The `tracing` section of the schema (part of schema.ts's single source, kept apart so the
 * section reads as one piece). Normalisation reads its defaults from here.
 */
import { boundedDuration, NOT_CA } from './schema-operations.js'

export const tracingSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'W3C Trace Context and OpenTelemetry spans: a server span per request, a client span per upstream call, exported over OTLP when `otlp` is set. Off by default. `enabled`, `serviceName` and `otlp` apply at start only (a reload that changes them is refused); `sampler` is reloadable.',
  properties: {
    enabled: { type: 'boolean', default: false, description: 'Record spans, continue callers\' `traceparent`, send the gateway\'s own context upstream and log `trace_id`/`span_id`. Off: `traceparent`, `tracestate` and `baggage` pass through untouched; on, `baggage` still does.' },
    serviceName: { type: 'string', minLength: 1, default: 'mtls-gateway', description: 'The `service.name` resource attribute of exported spans.' },
    sampler: {
      type: 'object',
      additionalProperties: false,
      description: 'Which traces are recorded.',
      properties: {
        ratio: { type: 'number', minimum: 0, maximum: 1, default: 1, description: 'Share of traces the gateway starts (no sampled caller context) that are recorded: 1 all, 0.01 one in a hundred (by trace id, so every service agrees). With `parentBased: false` also the share of requests continuing a caller\'s trace that are recorded (on a random draw).' },
        parentBased: { type: 'boolean', default: true, description: 'Follow the caller\'s sampled flag when it sends a `traceparent` (the ratio then applies only to traces the gateway starts). `false`: nothing a caller sends decides; its request is recorded with probability `ratio` on a random draw (not on the trace id it chose), its trace id still continued.' },
      },
    },
    otlp: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint'],
      description: 'Export spans over OTLP (batched, in the background; a collector that is down costs dropped spans, never requests).',
      properties: {
        endpoint: { type: 'string', pattern: '^https?://', description: 'Collector URL: `http://collector:4318/v1/traces` for `http/protobuf`, `http://collector:4317` for `grpc` (https: TLS). No user name or password in it (the grpc exporter drops them): the collector\'s credentials go in `headers`.' },
        protocol: { type: 'string', enum: ['http/protobuf', 'grpc'], default: 'http/protobuf', description: 'OTLP transport.' },
        headers: { type: 'object', additionalProperties: { type: 'string', description: 'The value of the header named by the key.' }, description: 'Headers (gRPC metadata) sent with every export, e.g. an API key: use `${env:…}` or `${file:…}` so the value is redacted from logs.' },
        timeout: {
          ...boundedDuration('60s', 'one export at a time is sent, so a collector that hangs stops export for this long (spans past the 4096 held are dropped meanwhile), even after it recovers'),
          description: 'Longest wait for one export, and for the span flush when a drain ends (also bounded by what is left of `drain.grace` less 1 s; spans still unsent are dropped and counted in a warning). One export is unanswered at a time: the next batch is sent when it is answered or this time has passed. At least 1ms.',
          default: '10s',
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          description: 'TLS to the collector (an https endpoint). Renewed contents of its files apply on reload.',
          properties: {
            ca: { type: 'string', description: 'PEM roots the collector\'s certificate must chain to (default: the system roots).' + NOT_CA },
            cert: { type: 'string', description: 'PEM client certificate, for a collector that requires one.' },
            key: { type: 'string', description: 'PEM private key of `cert`, unencrypted (there is no passphrase setting); one that does not match it is a config error.' },
          },
        },
      },
    },
  },
} as const
