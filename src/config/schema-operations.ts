/**
 * The `drain` and `logging` sections of the schema (part of schema.ts's single source, kept apart
 * like schema-tracing.ts), and the duration and size types every section uses.
 */
import { MAX_TIMER_MS } from './units.js'

/** A duration value: milliseconds, or a number with a unit. */
export const duration = {
  $comment: 'duration',
  description: 'A duration: a number of milliseconds, or a string like `250ms`, `5s`, `2m`, `1h`.',
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$' },
  ],
} as const

/** A size value: bytes, or a number with a unit. */
export const size = {
  $comment: 'size',
  description: 'A size: a number of bytes, or a string like `512KiB`, `10MiB`, `1GiB`, `100kB`, `5MB`.',
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+(B|KiB|MiB|GiB|kB|KB|MB|GB)$' },
  ],
} as const

/** `limits.maxBufferedBody`'s largest value, bytes (checked at load by normalize-limits.ts: a size's unit makes it a string JSON Schema cannot compare). */
export const MAX_BUFFERED_BODY = 536_870_888
export const MAX_BUFFERED_BODY_WHY = 'a buffered body is read as one string (a JSON or form body), and V8 holds at most 536870888 characters'
/** `limits.maxBufferedTotal`'s largest value, as written in the config. */
export const MAX_BUFFERED_TOTAL = '1024GiB'
export const MAX_BUFFERED_TOTAL_WHY = 'peak memory is about 5 × this, more than any one process is given'

/**
 * A duration with a maximum (`maxDuration`, checked at load and reload by load.ts) and why: a
 * duration's unit makes it a string JSON Schema cannot compare.
 */
/**
 * A whole number with a maximum and why (`maximumWhy`, an annotation load.ts puts in the message
 * and the reference prints): a value past it cannot work, e.g. more connections than a process
 * has descriptors.
 */
export const boundedInteger = (minimum: number, maximum: number, why: string) => ({ type: 'integer', minimum, maximum, maximumWhy: why }) as const

/** Most descriptors a Linux process can hold (fs.nr_open's default, the ceiling of `ulimit -n`): each connection takes one. */
const MAX_DESCRIPTORS = 1_048_576
/** A connection cap: at most one connection per descriptor. */
export const connectionCap = (minimum: number) => boundedInteger(minimum, MAX_DESCRIPTORS, `each connection takes a file descriptor, and a Linux process holds at most ${MAX_DESCRIPTORS} (fs.nr_open)`)

export const boundedDuration = (max: string, why: string) => ({ ...duration, maxDuration: { max, why } }) as const

/**
 * A duration the gateway waits on with a timer. Node's timers hold at most 2^31 − 1 ms (a longer
 * delay fires after 1 ms): `596h` leaves room for the margins added to some (a kill after the
 * drain grace, Node's keep-alive buffer); redis.ts waits `commandTimeout + acknowledgeTimeout`, so
 * those two have half of it.
 */
export const timerDuration = (max: '596h' | '298h' = '596h') => boundedDuration(max, `the gateway waits on a timer for it, and a timer holds at most ${MAX_TIMER_MS} ms (about 24.8 days)`)

/**
 * A lifetime the store keeps an entry for (`callers.bearerTtl`, `anonymousTtl`). It arms no timer,
 * but Redis holds an expiry as milliseconds since 1970 in a signed 64-bit integer (about 2.56·10^12
 * h; `SET … PX` refuses a longer one, and every request needing that write failed with 503 though
 * the config had loaded); `1000000000000h` leaves room (a seen `jti` outlives `exp` by at most
 * `clockSkew`'s 1h more).
 */
export const storeLifetime = (what: string) =>
  boundedDuration('1000000000000h', `${what}, and Redis holds an expiry as milliseconds since 1970 in a signed 64-bit integer (about 2.56·10^12 h)`)

export const drainSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Graceful shutdown on SIGTERM: stop accepting, let in-flight requests finish, then exit.',
  properties: {
    grace: { ...timerDuration(), default: '35s', description: 'Longest wait for in-flight requests after SIGTERM (keep it below the pod\'s terminationGracePeriodSeconds); the default outlasts an endpoint\'s default connect and response timeouts (5 s + 30 s), so a call waiting on a slow backend ends as it would without the drain. Then each request still running is ended (`503` `drain_ended` where nothing of its answer was sent, else its connection cut; an access line each), and the process exits with code 1 within a second and a half: half a second for those answers, then at most 1 s for each connection still sending one to let it leave (closed at once, a caller still sending would get a reset in its place). Closing after a drain that let every request finish (pools, the span flush) ends within what is left of it less 1 s, and the process exits 0.' },
  },
} as const

export const loggingSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Log volume a client that never authenticated can cause.',
  properties: {
    callerFaults: {
      type: 'object',
      additionalProperties: false,
      description: 'A cap on the lines of events a client with no authenticated caller can cause at will (failed TLS handshakes, malformed requests refused before routing, refused CONNECTs, proxied requests whose upstream fails (a dead endpoint, a pass-through dial: `upstream_…`), 401/407 without valid credentials, slow clients closed by a limit): per listener, kind and reason, at most `burst` lines in any `interval`; the rest are counted, and an interval after the first one held back a line `suppressed K similar lines in the last T s (reason)` says how many (pending ones at exit), naming the client addresses held back with their counts. Metrics count every event. Lines of an authenticated caller, failures on the gateway\'s side and security refusals (`egress_denied`, `path_escapes_base`, `caller_not_allowed`) are never capped; the OAuth dance\'s `oauth_browser_mismatch` pages (a forged callback or link form, anyone\'s to send) are capped like any 4xx, and so are the console\'s internal errors (500, listener `console`, reason `internal`: whoever reaches the admin listener may repeat their cause; the first lines of a window keep their stack). Each worker process has its own budget (`--workers 2`: up to twice the lines). Reloadable.',
      properties: {
        burst: { type: 'integer', minimum: 0, maximum: 10000, default: 20, description: 'Lines written per listener, kind and reason in any `interval` (per process); `0`: only the summaries.' },
        interval: { ...timerDuration(), default: '10s', description: 'The sliding window the burst applies to; `0` turns the cap off (every line is written).' },
      },
    },
  },
} as const

/** What a trust file (`roots`, `clientRoots`, a `ca` or `clientCa` file) may not hold, in its description. */
export const NOT_CA = ' A certificate in it that is not a CA (basicConstraints CA:FALSE or none, e.g. a client or server certificate) is a config error unless it is self-signed (then it is trusted as itself).'
