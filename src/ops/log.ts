/**
 * The gateway's pino logger: JSON lines (or a plain human line when asked), redaction by
 * key inside pino and by value on every finished line, and the one access-log line per
 * request. Lines go to an asynchronous batching sink (log-sink.ts): the request path never waits on I/O.
 */
import { fstatSync } from 'node:fs'
import { hostname } from 'node:os'
import { pino, type DestinationStream, type Logger } from 'pino'
import type { RequestRecord } from '../proxy/listener.js'
import { accessFields, accessLevel, flattened } from './access-line.js'
import { createLineSink, PIPE_BUF } from './log-sink.js'
import { formatPretty } from './pretty.js'
import { createRedactor, REDACTED, secretKeyPaths } from './redact.js'
import type { UpstreamFacts } from './upstream-facts.js'
import type { LogFormat, LogLevel } from '../process/index.js'

/** The logger's settings, named where they are used (the process folder defines them for the command line). */
export type { LogFormat, LogLevel }

/** Level, format and destination of the logger. */
export interface LogOptions {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go; default: stdout through the batching sink (log-sink.ts). Tests pass a capturing stream. */
  destination?: DestinationStream
  /** The batching sink's file descriptor (default 1, stdout). */
  fd?: number
  /**
   * Other processes write to the same stdout (`--workers`): when it is a pipe or a socket, every
   * write stays within PIPE_BUF and ends at a line end, so no line is cut by another process's.
   */
  sharedOutput?: boolean
}

/** The logger plus the access log and runtime redaction registration. */
export interface GatewayLog {
  readonly logger: Logger
  /**
   * Writes the access-log line of one finished request. Neither argument may change after the
   * call: the batching sink renders the line when it writes its batch (the time is taken now).
   */
  access(record: RequestRecord, upstream?: UpstreamFacts): void
  /** Registers values (field values, tokens, signatures) to redact from every later line. */
  addSecretValues(values: Iterable<string>): void
  /** Lines the batching sink dropped because its output stopped taking them (0 with a destination). */
  droppedLines(): number
  /** Writes out every buffered line, waiting (bounded) for a write in progress; then process.exit. */
  end(): Promise<void>
}

/** Creates the logger; `secrets` (config.secrets) are redacted from the first line on. */
export function createLog(o: LogOptions = {}, secrets: Iterable<string> = []): GatewayLog {
  const redactor = createRedactor()
  redactor.add(secrets)
  // Lines are batched into writes of ≥ 64 KiB (one write per ~150 requests, not one each), or
  // of ≤ PIPE_BUF on a pipe other processes share, and flushed at least every 250 ms so a quiet
  // gateway's lines still show up promptly.
  const fd = o.fd ?? 1
  // Said once writes go through again (the logger exists by then).
  const onDropped = (lines: number): void => logger.warn({ dropped: lines }, 'log lines dropped: stdout took no writes while too many were waiting')
  const async = o.destination ? undefined : createLineSink({ fd, periodMs: 250, onDropped, ...(o.sharedOutput === true && isPipeOrSocket(fd) ? { minLength: PIPE_BUF, maxWrite: PIPE_BUF } : {}) })
  const sink: DestinationStream = o.destination ?? (async as DestinationStream)
  const stream: DestinationStream = o.format === 'pretty' ? { write: (line: string) => void sink.write(formatPretty(line)) } : sink
  const options = {
    level: o.level ?? 'info',
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: cachedIsoTime(),
    hooks: { streamWrite: (line: string) => redactor.redact(line) },
  }
  // Logger options (not per request).
  const logger = pino({ ...options, redact: { paths: secretKeyPaths(), censor: REDACTED } }, stream)
  // Access lines have a fixed shape without secret-named keys, so key redaction (a walk of
  // every secret path per line) finds nothing there. They are serialised here, byte for byte
  // as pino would (same level, time, pid, hostname, key order, msg), without pino's generic
  // per-key walk; redaction by value still runs on every finished line.
  const base = flattened(`,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`)
  const line = (level: string, time: string, record: RequestRecord, upstream: UpstreamFacts | undefined): string =>
    redactor.redact(`{"level":"${level}"${time}${base}${accessFields(record, upstream)},"msg":"request"}\n`)
  // Rendered with its batch when the sink writes (a finished request's record no longer changes);
  // the time is taken now. A pretty line or a test's destination gets the string at once.
  const deferred = async !== undefined && o.format !== 'pretty' ? async : undefined
  return {
    logger,
    access(record, upstream) {
      const level = accessLevel(record)
      if (!logger.isLevelEnabled(level)) return
      const time = options.timestamp()
      if (deferred) deferred.writeDeferred(() => line(level, time, record, upstream))
      else stream.write(line(level, time, record, upstream))
    },
    addSecretValues: (values) => redactor.add(values),
    droppedLines: () => async?.droppedLines() ?? 0,
    end: async () => {
      await async?.end()
    },
  }
}

/** True when `fd` is a pipe or a socket (not a file or a terminal); false when it cannot be examined. */
function isPipeOrSocket(fd: number): boolean {
  try {
    const s = fstatSync(fd)
    return s.isFIFO() || s.isSocket()
  } catch {
    return false
  }
}

/**
 * pino's isoTime: `new Date().toISOString()` formatted once per second, the milliseconds
 * appended, and the whole field reused within a millisecond.
 */
export function cachedIsoTime(): () => string {
  let lastMs = -1
  let last = ''
  let second = -1
  let prefix = ''
  return () => {
    const now = Date.now()
    if (now === lastMs) return last
    lastMs = now
    const s = Math.floor(now / 1000)
    if (s !== second) {
      second = s
      // Everything up to the milliseconds ("YYYY-MM-DDTHH:MM:SS.", or an expanded year's longer form).
      const iso = new Date(s * 1000).toISOString()
      prefix = flattened(`,"time":"${iso.slice(0, iso.lastIndexOf('.') + 1)}`)
    }
    const ms = now - s * 1000
    last = `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`
    return last
  }
}
