/**
 * The gateway's pino logger: JSON lines (or a plain human line when asked), redaction by
 * key inside pino and by value on every finished line, and the one access-log line per
 * request. Lines go through pino's async destination: the request path never waits on I/O.
 */
import { pino, type DestinationStream, type Logger } from 'pino'
import type { RequestRecord } from '../proxy/listener.js'
import { formatPretty } from './pretty.js'
import { createRedactor, REDACTED, secretKeyPaths } from './redact.js'
import type { UpstreamFacts } from './upstream-facts.js'

/** pino levels accepted by `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
/** A pino level name. */
export type LogLevel = (typeof LOG_LEVELS)[number]
/** JSON lines (default) or plain lines for a terminal. */
export type LogFormat = 'json' | 'pretty'

/** Level, format and destination of the logger. */
export interface LogOptions {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go; default: stdout through pino's async destination. Tests pass a capturing stream. */
  destination?: DestinationStream
}

/** The logger plus the access log and runtime redaction registration. */
export interface GatewayLog {
  readonly logger: Logger
  /** Writes the access-log line of one finished request. */
  access(record: RequestRecord, upstream?: UpstreamFacts): void
  /** Registers values (field values, tokens, signatures) to redact from every later line. */
  addSecretValues(values: Iterable<string>): void
  /** Writes out buffered lines synchronously; call before process.exit. */
  flush(): void
}

/** Creates the logger; `secrets` (config.secrets) are redacted from the first line on. */
export function createLog(o: LogOptions = {}, secrets: Iterable<string> = []): GatewayLog {
  const redactor = createRedactor()
  redactor.add(secrets)
  // Lines are batched into writes of ≥ 4 KiB (one write per ~10 requests, not one each),
  // and flushed at least every 250 ms so a quiet gateway's lines still show up promptly.
  const async = o.destination ? undefined : pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 })
  const sink: DestinationStream = o.destination ?? (async as DestinationStream)
  const stream: DestinationStream = o.format === 'pretty' ? { write: (line: string) => void sink.write(formatPretty(line)) } : sink
  const options = {
    level: o.level ?? 'info',
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: cachedIsoTime(),
    hooks: { streamWrite: (line: string) => redactor.redact(line) },
  }
  const logger = pino({ ...options, redact: { paths: secretKeyPaths(), censor: REDACTED } }, stream)
  // Access lines have a fixed shape without secret-named keys, so key redaction (a walk of
  // every secret path per line, the largest cost of a proxied request) finds nothing there;
  // redaction by value still runs on every finished line.
  const accessLogger = pino(options, stream)
  return {
    logger,
    access: (record, upstream) => writeAccess(accessLogger, record, upstream),
    addSecretValues: (values) => redactor.add(values),
    flush() {
      try {
        async?.flushSync()
      } catch {
        // Not yet open or already closed: nothing buffered that could still be written.
      }
    },
  }
}

/** pino's isoTime, formatted once per millisecond: under load several lines share one. */
function cachedIsoTime(): () => string {
  let lastMs = -1
  let last = ''
  return () => {
    const now = Date.now()
    if (now !== lastMs) {
      lastMs = now
      last = `,"time":"${new Date(now).toISOString()}"`
    }
    return last
  }
}

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10)

function writeAccess(logger: Logger, r: RequestRecord, up: UpstreamFacts | undefined): void {
  const line: Record<string, unknown> = {
    reqId: r.id,
    mode: r.mode,
    endpoint: r.facts.endpoint,
    method: r.method,
    status: r.status,
    durationMs: ms(r.durationMs),
    upstreamMs: ms(r.facts.upstreamMs),
    tlsHandshakeMs: ms(up?.handshakeMs),
    upstreamAddress: up?.address,
    tlsVersion: up?.tlsVersion,
    connectionReused: up?.reused,
    tlsResumed: up?.resumed,
    caller: r.facts.caller,
    tenant: r.facts.tenant,
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    trace_id: r.facts.trace?.traceId,
    span_id: r.facts.trace?.spanId,
  }
  if (r.error) {
    line.reason = r.error.reason
    line.error = r.error.message
    // An unknown failure is a bug: its stack is what the operator needs.
    if (r.error.reason === 'internal' && r.error.cause instanceof Error) line.cause = r.error.cause.stack ?? r.error.cause.message
  }
  if (r.status >= 500) logger.warn(line, 'request')
  else logger.info(line, 'request')
}
