/**
 * The OTLP span exporter from `tracing.otlp`: HTTP/protobuf or gRPC, headers (gRPC metadata),
 * TLS to the collector. Loaded on demand, so a gateway without export never loads gRPC.
 * Failures are logged (at most once a minute), never thrown into a request.
 */
import type { ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import { readConfigFile, type TracingConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { tlsFileProblems, type PemFile } from '../tls/index.js'

type OtlpConfig = NonNullable<TracingConfig['otlp']>

/** Where export failures are reported (the gateway's logger). */
export type ExportFailure = (problem: string) => void

/** The contents of `tracing.otlp.tls`'s files. */
interface OtlpTls {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

const problemAt = (file: string, key: string, msg: string): ConfigProblem => ({ file, line: 0, column: 0, key: `tracing.otlp.tls.${key}`, msg })

/**
 * Reads `tracing.otlp.tls`'s files and checks what they hold (tlsFileProblems: a CA file with a
 * certificate, a certificate, a key that matches it; no passphrase setting, so an encrypted key
 * is refused): the exporter would otherwise fail only when it connects, and spans be dropped.
 */
function readTlsFiles(otlp: OtlpConfig): { tls: OtlpTls; problems: ConfigProblem[] } {
  const tls: OtlpTls = {}
  const problems: ConfigProblem[] = []
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = otlp.tls[key]
    if (file === undefined) continue
    try {
      // Read at start and on reload (not per request).
      tls[key] = readConfigFile(file)
    } catch (e) {
      problems.push(problemAt(file, key, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`))
    }
  }
  const read = (key: keyof OtlpTls): PemFile | undefined => (tls[key] && otlp.tls[key] !== undefined ? { file: otlp.tls[key], pem: tls[key] } : undefined)
  const files = { ca: read('ca'), cert: read('cert'), key: read('key') }
  for (const p of tlsFileProblems(files)) problems.push(problemAt(p.file, p.field, p.msg))
  return { tls, problems }
}

/** Reads and checks `tracing.otlp.tls`'s files now (throws a ConfigError naming each problem). */
function readTls(otlp: OtlpConfig): OtlpTls {
  const { tls, problems } = readTlsFiles(otlp)
  if (problems.length > 0) throw new ConfigError(problems)
  return tls
}

/**
 * The problems a start would stop on in `tracing.otlp.tls` (a file unreadable, or not what its
 * key needs), collected: `check`, the console's draft validator and the reload verdict read them with the rest.
 */
export function otlpTlsProblems(tracing: TracingConfig): ConfigProblem[] {
  return tracing.enabled && tracing.otlp ? readTlsFiles(tracing.otlp).problems : []
}

/** An exporter and what ends it: its shutdown, then (OTLP/HTTP) its agent's sockets. */
interface BuiltExporter {
  readonly exporter: SpanExporter
  shutdown(): Promise<void>
}

/** The span exporter of the configured protocol, with these TLS files' contents. */
async function buildExporter(otlp: OtlpConfig, tls: OtlpTls): Promise<BuiltExporter> {
  const { ca, cert, key } = tls
  if (otlp.protocol === 'grpc') {
    const grpc = await import('@opentelemetry/exporter-trace-otlp-grpc')
    const base = await import('@opentelemetry/otlp-grpc-exporter-base')
    const metadata = base.createEmptyMetadata()
    for (const [k, v] of Object.entries(otlp.headers)) metadata.set(k, v)
    const secure = otlp.endpoint.startsWith('https:')
    // Its shutdown closes the gRPC channel.
    const exporter = new grpc.OTLPTraceExporter({
      url: otlp.endpoint,
      metadata,
      timeoutMillis: otlp.timeoutMs,
      credentials: secure ? base.createSslCredentials(ca, key, cert) : base.createInsecureCredentials(),
    })
    return { exporter, shutdown: () => exporter.shutdown() }
  }
  const http = await import('@opentelemetry/exporter-trace-otlp-proto')
  // The exporter's shutdown leaves its keep-alive agent open: the agent is made here and destroyed
  // after it, or each renewal of the TLS files would keep one more connection to the collector.
  let agent: { destroy(): void } | undefined
  const exporter = new http.OTLPTraceExporter({
    url: otlp.endpoint,
    // Exporter options (not per request).
    headers: { ...otlp.headers },
    timeoutMillis: otlp.timeoutMs,
    httpAgentOptions: async (protocol) => {
      const { Agent } = protocol === 'http:' ? await import('node:http') : await import('node:https')
      return (agent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }))
    },
  })
  return {
    exporter,
    shutdown: async () => {
      await exporter.shutdown()
      agent?.destroy()
    },
  }
}

const sameTls = (a: OtlpTls, b: OtlpTls): boolean =>
  (['ca', 'cert', 'key'] as const).every((k) => (a[k] === undefined ? b[k] === undefined : b[k] !== undefined && a[k].equals(b[k])))

/** A span exporter whose TLS files can be renewed while it runs. */
export interface RenewableExporter extends SpanExporter {
  /**
   * Reads `otlp`'s TLS files now (throws a ConfigError for an unreadable one, failing the
   * reload as it would fail a start) and returns what switches export to them: batches after
   * it go through a new exporter; the old one finishes what it holds and shuts down.
   */
  renew(otlp: OtlpConfig): () => void
  /** Spans whose export has returned (sent or failed), for the count a bounded shutdown drops. */
  returned(): number
  /** Spans handed to an export (answered or not). */
  sent(): number
  /** Spans in exports that failed (the collector answered an error, or did not answer within tracing.otlp.timeout): never exported. */
  failed(): number
}

/** Builds the exporter for `otlp`, its TLS files read now and again on every renew(). */
export async function createOtlpExporter(otlp: OtlpConfig, onFailure: ExportFailure): Promise<RenewableExporter> {
  let current = readTls(otlp)
  let inner = await buildExporter(otlp, current)
  const reporting = reportingFailures(() => inner.exporter, otlp.endpoint, onFailure)
  // Built once, at start (not per request).
  return {
    ...reporting,
    shutdown: () => inner.shutdown(),
    renew(next) {
      const tls = readTls(next)
      // Most reloads change something else: the same files keep the same exporter.
      if (sameTls(tls, current)) return () => {}
      return () => {
        current = tls
        void buildExporter(next, tls).then(
          (built) => {
            const old = inner
            inner = built
            void old.shutdown().catch(() => undefined)
          },
          (e: unknown) => onFailure(`renewing the exporter's TLS files failed: ${e instanceof Error ? e.message : String(e)}; still exporting with the previous ones`),
        )
      }
    },
  }
}

/** Wraps an exporter so a failed batch is logged (rate-limited) and counted instead of vanishing. */
function reportingFailures(current: () => SpanExporter, endpoint: string, onFailure: ExportFailure): SpanExporter & { returned(): number; sent(): number; failed(): number } {
  let lastReport = 0
  let returned = 0
  let sent = 0
  let failed = 0
  return {
    returned: () => returned,
    sent: () => sent,
    failed: () => failed,
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      sent += spans.length
      current().export(spans, (result) => {
        returned += spans.length
        // The SDK does not retry a failed batch: its spans are lost, and counted (trace_spans_dropped_total{reason="export_failed"}).
        if (result.code !== 0) failed += spans.length
        const now = Date.now()
        if (result.code !== 0 && now - lastReport > 60_000) {
          lastReport = now
          onFailure(`exporting ${spans.length} spans to ${endpoint} failed: ${result.error?.message ?? 'unknown error'} (further failures in the next minute are not logged)`)
        }
        done(result)
      })
    },
    shutdown: () => current().shutdown(),
    forceFlush: () => current().forceFlush?.() ?? Promise.resolve(),
  }
}
