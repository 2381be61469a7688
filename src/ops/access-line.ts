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

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10)

/** `,"name":value` in JSON, nothing for undefined (as pino leaves such keys out). */
function field(name: string, v: string | number | boolean | undefined): string {
  if (v === undefined) return ''
  if (typeof v === 'number') return `,"${name}":${Number.isFinite(v) ? String(v) : 'null'}`
  return `,"${name}":${typeof v === 'string' ? JSON.stringify(v) : String(v)}`
}

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
      if (fragments.size < 256) fragments.set(v, f)
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
    if (Object.isFrozen(up)) upstreamFragments.set(up, f)
  }
  return f
}

/** The access line's own keys, in the order operators and tests know. */
export function accessFields(r: RequestRecord, up: UpstreamFacts | undefined): string {
  const facts = r.facts
  let line =
    field('reqId', r.id) +
    modeField(r.mode) +
    endpointField(facts.endpoint) +
    methodField(r.method) +
    field('status', r.status) +
    field('durationMs', ms(r.durationMs)) +
    field('upstreamMs', ms(facts.upstreamMs)) +
    field('upstreamRetries', facts.upstreamRetries) +
    upstreamFields(up) +
    field('clientAddress', r.clientAddress) +
    field('caller', facts.caller) +
    field('tenant', facts.tenant) +
    field('passThrough', r.passThrough) +
    field('requestBytes', r.requestBytes) +
    field('responseBytes', r.responseBytes)
  const trace = facts.trace ?? r.span
  if (trace !== undefined) line += field('trace_id', trace.traceId) + field('span_id', trace.spanId)
  if (r.error) {
    line += field('reason', r.error.reason) + field('error', r.error.message)
    // An unknown failure is a bug: its stack is what the operator needs.
    if (r.error.reason === 'internal' && r.error.cause instanceof Error) line += field('cause', r.error.cause.stack ?? r.error.cause.message)
  }
  return line
}
