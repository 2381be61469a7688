/**
 * The OTLP span exporter from `tracing.otlp`: HTTP/protobuf or gRPC, headers (gRPC metadata),
 * TLS to the collector. Loaded on demand, so a gateway without export never loads gRPC.
 * Failures are logged (at most once a minute), never thrown into a request.
 */
import { readFileSync } from 'node:fs'
import type { ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { TracingConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'

type OtlpConfig = NonNullable<TracingConfig['otlp']>

/** Where export failures are reported (the gateway's logger). */
export type ExportFailure = (problem: string) => void

/** A TLS file of `tracing.otlp.tls`; unreadable → ConfigError naming the key, like every other config file. */
function read(file: string | undefined, key: string): Buffer | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (e) {
    throw new ConfigError([{ file, line: 0, column: 0, key: `tracing.otlp.tls.${key}`, msg: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}` }])
  }
}

/** Builds the exporter for `otlp`; reads TLS files once. */
export async function createOtlpExporter(otlp: OtlpConfig, onFailure: ExportFailure): Promise<SpanExporter> {
  const ca = read(otlp.tls.ca, 'ca')
  const cert = read(otlp.tls.cert, 'cert')
  const key = read(otlp.tls.key, 'key')
  let inner: SpanExporter
  if (otlp.protocol === 'grpc') {
    const grpc = await import('@opentelemetry/exporter-trace-otlp-grpc')
    const base = await import('@opentelemetry/otlp-grpc-exporter-base')
    const metadata = base.createEmptyMetadata()
    for (const [k, v] of Object.entries(otlp.headers)) metadata.set(k, v)
    const secure = otlp.endpoint.startsWith('https:')
    inner = new grpc.OTLPTraceExporter({
      url: otlp.endpoint,
      metadata,
      timeoutMillis: otlp.timeoutMs,
      credentials: secure ? base.createSslCredentials(ca, key, cert) : base.createInsecureCredentials(),
    })
  } else {
    const http = await import('@opentelemetry/exporter-trace-otlp-proto')
    inner = new http.OTLPTraceExporter({
      url: otlp.endpoint,
      // Exporter options (not per request).
      headers: { ...otlp.headers },
      timeoutMillis: otlp.timeoutMs,
      httpAgentOptions: { keepAlive: true, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
    })
  }
  return reportingFailures(inner, otlp.endpoint, onFailure)
}

/** Wraps an exporter so a failed batch is logged (rate-limited) instead of vanishing. */
function reportingFailures(inner: SpanExporter, endpoint: string, onFailure: ExportFailure): SpanExporter {
  let lastReport = 0
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      inner.export(spans, (result) => {
        const now = Date.now()
        if (result.code !== 0 && now - lastReport > 60_000) {
          lastReport = now
          onFailure(`exporting ${spans.length} spans to ${endpoint} failed: ${result.error?.message ?? 'unknown error'} (further failures in the next minute are not logged)`)
        }
        done(result)
      })
    },
    shutdown: () => inner.shutdown(),
    ...(inner.forceFlush ? { forceFlush: () => (inner.forceFlush as () => Promise<void>)() } : {}),
  }
}
