/**
 * The access line's strings and durations are written without JSON.stringify and String() on the
 * usual values (src/ops/access-line.ts: quoted, tenths). Each is pinned to the computation it
 * replaces over generated input, lone surrogates and control characters included (the pino
 * comparison in access-line.test.ts leaves lone surrogates out), and so is the whole field text
 * against the JSON.stringify-based writer it replaced.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError, REASONS } from '../../src/errors.js'
import { accessFields, quoted, tenths } from '../../src/ops/access-line.js'
import type { UpstreamFacts } from '../../src/ops/upstream-facts.js'
import type { RequestRecord } from '../../src/proxy/listener.js'
import type { RequestTrace } from '../../src/tracing/spans.js'

/** Any UTF-16 code unit: lone and paired surrogates, controls, quotes, backslashes, DEL, non-ASCII. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const special = fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ud83d\ude00', 'é', '/', ' ')
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: codeUnit, maxLength: 40 }),
  fc.string({ unit: fc.oneof(fc.constantFrom(...'abc-019.:'), special), maxLength: 40 }),
)

/** The writer before quoted and tenths: JSON.stringify for every string, String(Math.round(v * 10) / 10) for every duration. */
const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10)
function field(name: string, v: string | number | boolean | undefined): string {
  if (v === undefined) return ''
  if (typeof v === 'number') return `,"${name}":${Number.isFinite(v) ? String(v) : 'null'}`
  return `,"${name}":${typeof v === 'string' ? JSON.stringify(v) : String(v)}`
}
function referenceFields(r: RequestRecord, up: UpstreamFacts | undefined): string {
  const f = r.facts
  const upstream = up === undefined ? '' : field('tlsHandshakeMs', ms(up.handshakeMs)) + field('upstreamAddress', up.address) + field('tlsVersion', up.tlsVersion) + field('connectionReused', up.reused) + field('tlsResumed', up.resumed)
  let line =
    field('reqId', r.id) + field('mode', r.mode) + field('endpoint', f.endpoint) + field('method', r.method) + field('status', r.status) + field('durationMs', ms(r.durationMs)) +
    field('upstreamMs', ms(f.upstreamMs)) + field('upstreamRetries', f.upstreamRetries) + upstream + field('clientAddress', r.clientAddress) + field('caller', f.caller) +
    field('tenant', f.tenant) + field('passThrough', r.passThrough) + field('requestBytes', r.requestBytes) + field('responseBytes', r.responseBytes)
  const trace = f.trace ?? r.span
  if (trace !== undefined) line += field('trace_id', trace.traceId) + field('span_id', trace.spanId)
  if (r.error) {
    line += field('reason', r.error.reason) + field('error', r.error.message)
    if (r.error.reason === 'internal' && r.error.cause instanceof Error) line += field('cause', r.error.cause.stack ?? r.error.cause.message)
  }
  return line
}

/** Durations as they come (fractions of a ms to hours), and any double. */
const duration = fc.oneof(
  fc.double({ min: 0, max: 1e7, noNaN: true }),
  fc.integer({ min: 0, max: 1e8 }).map((n) => n / 100),
  fc.integer({ min: 0, max: 1e6 }).map((n) => n / 10 + 0.05),
  fc.double(),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, 99_999_999.95, 99_999_999.94, 1e21, -0.04, -0.05, 5e-324),
)
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined })
const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
const record: fc.Arbitrary<RequestRecord> = fc
  .record({
    id: text,
    mode: fc.constantFrom('forward', 'connect', 'route', 'api', 'other' as const),
    method: text,
    status: fc.oneof(fc.integer({ min: 0, max: 999 }), fc.integer(), duration),
    durationMs: duration,
    endpoint: opt(text),
    caller: opt(text),
    tenant: opt(text),
    upstreamMs: opt(duration),
    upstreamRetries: opt(fc.nat(5)),
    clientAddress: opt(text),
    passThrough: opt(text),
    requestBytes: opt(fc.oneof(fc.nat(), duration)),
    responseBytes: opt(fc.oneof(fc.nat(), duration)),
    trace: opt(fc.record({ traceId: hex(32), spanId: hex(16) })),
    error: opt(fc.record({ reason: fc.constantFrom(...REASONS), message: text, cause: opt(text) })),
  })
  .map((g) => ({
    id: g.id,
    mode: g.mode,
    method: g.method,
    status: g.status,
    durationMs: g.durationMs,
    facts: { endpoint: g.endpoint, caller: g.caller, tenant: g.tenant, upstreamMs: g.upstreamMs, upstreamRetries: g.upstreamRetries, ...(g.trace ? { trace: g.trace as unknown as RequestTrace } : {}) },
    clientAddress: g.clientAddress,
    passThrough: g.passThrough,
    requestBytes: g.requestBytes,
    responseBytes: g.responseBytes,
    ...(g.error ? { error: new GatewayError(g.error.reason, g.error.message, g.error.cause === undefined ? {} : { cause: new Error(g.error.cause) }) } : {}),
  }))
const upstream = opt(fc.record({ address: opt(text), tlsVersion: opt(text), reused: fc.boolean(), resumed: fc.boolean(), handshakeMs: opt(duration) }))

describe('access line quoting and numbers', () => {
  it('quoted(s) is JSON.stringify(s) for any string: unicode, control characters, lone surrogates (30,000 runs)', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(quoted(s)).toBe(JSON.stringify(s))
      }),
      { seed: 0x9107ed, numRuns: 30_000 },
    )
  })

  it('tenths(v) is String(Math.round(v * 10) / 10), "null" where that is not finite (30,000 runs)', () => {
    fc.assert(
      fc.property(duration, (v) => {
        const rounded = Math.round(v * 10) / 10
        expect(tenths(v)).toBe(Number.isFinite(rounded) ? String(rounded) : 'null')
      }),
      { seed: 0x7e47, numRuns: 30_000 },
    )
  })

  it('the fields are the JSON.stringify-based writer\'s, byte for byte, for any record (10,000 runs)', () => {
    fc.assert(
      fc.property(record, upstream, fc.boolean(), (r, up, frozen) => {
        const u = up === undefined ? undefined : frozen ? Object.freeze({ ...up }) : { ...up }
        // Twice: the second time from the fragments kept for repeated values and frozen facts.
        expect(accessFields(r, u)).toBe(referenceFields(r, u))
        expect(accessFields(r, u)).toBe(referenceFields(r, u))
      }),
      { seed: 0xacce5, numRuns: 10_000 },
    )
  })
})
