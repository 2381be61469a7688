/**
 * Node's process warnings (a library's MaxListenersExceededWarning, a deprecation, an
 * experimental feature) as the gateway's own log lines. Left to Node they are printed to stderr
 * as plain text among the JSON lines: a log pipeline reading one JSON object per line stumbles
 * on them, and neither the level nor the redaction of secret values applies to them. ioredis,
 * for one, prints "Possible EventEmitter memory leak detected" at a Sentinel failover with more
 * than ten commands in flight (each READONLY reply ends the same socket again: redis/ioredis#1792).
 */
import type { Logger } from 'pino'

/** Replaces Node's printer of process warnings (the listener it installed at start) with a warn line on `logger`. */
export function logProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning')
  process.on('warning', (w: Error & { code?: unknown }) => {
    logger.warn({ warning: w.name, ...(typeof w.code === 'string' ? { code: w.code } : {}) }, `runtime warning: ${w.message}`)
  })
}
