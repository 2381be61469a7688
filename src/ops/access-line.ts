/**
 * The access line's level and fields, serialised by hand in the order pino would write them
 * (log.ts writes the line).
 */
import type { Reason } from '../errors.js'
import type { RequestRecord } from '../proxy/listener.js'
import type { UpstreamFacts } from './upstream-facts.js'

/**
 * The 5xx a client causes at will, not failures of the gateway's: 505 answers the HTTP version its
 * request line names, too_many_pipelined the requests it pipelined past the limit. Their access
 * lines are at info, and capped like a 4xx's (caller-fault-lines.ts).
 */
export const CLIENT_CAUSED_5XX: ReadonlySet<Reason> = new Set<Reason>(['http_version_not_supported', 'transfer_coding_not_implemented', 'too_many_pipelined'])

/** warn for a 5xx of the gateway's or an upstream's, info for the rest (CLIENT_CAUSED_5XX too). */
export function accessLevel(r: RequestRecord): 'warn' | 'info' {
  return r.status >= 500 && !(r.error && CLIENT_CAUSED_5XX.has(r.error.reason)) ? 'warn' : 'info'
}

/**
 * `s`, made flat once (V8 turns a concatenation into one run of characters in place when a
 * conversion reads it): a fragment kept and put in every line is otherwise a tree of pieces that
 * redaction's pattern flattens again per line (docs/performance.md, session 49).
 */
export function flattened(s: string): string {
  void Number(s)
  return s
}

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10)

/**
 * `s` as JSON.stringify writes it. The usual text (an id, an address, a name) has nothing to
 * escape: quoted as it is, without JSON.stringify's call into the runtime; anything else (a
 * control character, `"`, `\\`, any surrogate, paired or not) goes to JSON.stringify.
 */
export function quoted(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s)
  }
  return `"${s}"`
}

/** A number as the line writes it: `String(v)` (JSON's text for a finite number), `null` for NaN and the infinities. */
const numeric = (v: number): string => (Number.isFinite(v) ? String(v) : 'null')

/**
 * `String(Math.round(v * 10) / 10)` (ms(), written): a duration's tenths counted as an integer
 * n, whose text is n's digits with a "." before the last unless it is 0. Only for 0 ≤ n < 10⁹,
 * where n / 10 is the nearest double to that decimal and no shorter one rounds to it; the rest
 * (negative, huge, NaN) takes String().
 */
export function tenths(v: number): string {
  const n = Math.round(v * 10)
  if (!(n >= 0 && n < 1e9)) return numeric(n / 10)
  const digit = n % 10
  return digit === 0 ? String(n / 10) : `${(n - digit) / 10}.${digit}`
}

/** `,"name":value` in JSON, nothing for undefined (as pino leaves such keys out). */
function field(name: string, v: string | number | boolean | undefined): string {
  if (v === undefined) return ''
  if (typeof v === 'number') return `,"${name}":${numeric(v)}`
  return `,"${name}":${typeof v === 'string' ? quoted(v) : String(v)}`
}

/** field(name, v) for a string, its key's text made once. */
function stringField(name: string): (v: string | undefined) => string {
  const key = flattened(`,"${name}":`)
  return (v) => (v === undefined ? '' : key + quoted(v))
}

/** field(name, ms(v)) for a duration, its key's text made once. */
function durationField(name: string): (v: number | undefined) => string {
  const key = flattened(`,"${name}":`)
  return (v) => (v === undefined ? '' : key + tenths(v))
}

/** field(name, v) for a byte count or another number, its key's text made once. */
function numberField(name: string): (v: number | undefined) => string {
  const key = flattened(`,"${name}":`)
  return (v) => (v === undefined ? '' : key + numeric(v))
}

const reqIdField = stringField('reqId')
const clientAddressField = stringField('clientAddress')
const callerField = stringField('caller')
const tenantField = stringField('tenant')
const durationMsField = durationField('durationMs')
const upstreamMsField = durationField('upstreamMs')
const requestBytesField = numberField('requestBytes')
const responseBytesField = numberField('responseBytes')

/** `,"status":N` of each status a request can end with (0–999), made once; any other number as field() writes it. */
const STATUS_FIELDS = Array.from({ length: 1000 }, (_, status) => flattened(field('status', status)))
const statusField = (v: number): string => (Number.isInteger(v) && v >= 0 && v < 1000 ? (STATUS_FIELDS[v] as string) : field('status', v))

/**
 * `field(name, v)` for a string value that repeats from request to request (an endpoint's name,
 * the method, the mode): the fragment is made once per value, and at most 256 values are kept,
 * so values a caller chooses cannot grow it.
 */
function repeatedField(name: string): (v: string | undefined) => string {
  const fragments = new Map<string, string>()
  return (v) => {
    if (v === undefined) return ''
    let f = fragments.get(v)
    if (f === undefined) {
      f = field(name, v)
      if (fragments.size < 256) fragments.set(v, flattened(f))
    }
    return f
  }
}

const modeField = repeatedField('mode')
const endpointField = repeatedField('endpoint')
const methodField = repeatedField('method')

/**
 * The upstream connection's fields, made once per facts object: the observer hands every
 * request on a connection the same frozen object (upstream-facts.ts). A facts object that is
 * not frozen could still change, so its fields are made each time.
 */
const upstreamFragments = new WeakMap<UpstreamFacts, string>()
function upstreamFields(up: UpstreamFacts | undefined): string {
  if (up === undefined) return ''
  let f = upstreamFragments.get(up)
  if (f === undefined) {
    f = field('tlsHandshakeMs', ms(up.handshakeMs)) + field('upstreamAddress', up.address) + field('tlsVersion', up.tlsVersion) + field('connectionReused', up.reused) + field('tlsResumed', up.resumed)
    if (Object.isFrozen(up)) upstreamFragments.set(up, flattened(f))
  }
  return f
}

/** The access line's own keys, in the order operators and tests know. */
export function accessFields(r: RequestRecord, up: UpstreamFacts | undefined): string {
  const facts = r.facts
  let line =
    reqIdField(r.id) +
    modeField(r.mode) +
    endpointField(facts.endpoint) +
    methodField(r.method) +
    statusField(r.status) +
    durationMsField(r.durationMs) +
    upstreamMsField(facts.upstreamMs) +
    field('upstreamRetries', facts.upstreamRetries) +
    upstreamFields(up) +
    clientAddressField(r.clientAddress) +
    callerField(facts.caller) +
    tenantField(facts.tenant) +
    field('passThrough', r.passThrough) +
    requestBytesField(r.requestBytes) +
    responseBytesField(r.responseBytes)
  const trace = facts.trace ?? r.span
  if (trace !== undefined) line += field('trace_id', trace.traceId) + field('span_id', trace.spanId)
  if (r.error) {
    line += field('reason', r.error.reason) + field('error', r.error.message)
    // An unknown failure is a bug: its stack is what the operator needs.
    if (r.error.reason === 'internal' && r.error.cause instanceof Error) line += field('cause', r.error.cause.stack ?? r.error.cause.message)
  }
  return line
}
