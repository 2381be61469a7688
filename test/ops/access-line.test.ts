/**
 * The access line is serialised by hand (src/ops/log.ts) for speed; operators' parsers were
 * built on what pino writes. Every generated request record must give the same bytes as pino
 * logging the same fields in the same order (the timestamp aside, which differs by clock).
 */
import fc from 'fast-check'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { GatewayError, REASONS } from '../../src/errors.js'
import { createLog } from '../../src/ops/index.js'
import type { UpstreamFacts } from '../../src/ops/upstream-facts.js'
import type { RequestRecord } from '../../src/proxy/listener.js'
import type { RequestTrace } from '../../src/tracing/spans.js'

/** The access line's fields as main's pino-based writer passed them to pino, in its order. */
function pinoFields(r: RequestRecord, up: UpstreamFacts | undefined): Record<string, unknown> {
  const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10)
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
    if (r.error.reason === 'internal' && r.error.cause instanceof Error) line.cause = r.error.cause.stack ?? r.error.cause.message
  }
  return line
}

// A lone surrogate is the one place the two differ: JSON.stringify escapes it (as pino itself does on Node ≥ 25), pino < 25 writes it raw.
const text = fc.string({ unit: 'binary', maxLength: 130 }).filter((s) => !/\p{Cs}/u.test(s))
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined })
const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, Infinity, -0))
const record = fc.record({
  id: text,
  mode: fc.constantFrom('forward', 'connect', 'route', 'api', 'other' as const),
  method: text,
  status: fc.oneof(fc.integer({ min: 0, max: 599 }), num),
  durationMs: num,
  endpoint: opt(text),
  caller: opt(text),
  tenant: opt(text),
  upstreamMs: opt(num),
  requestBytes: opt(fc.nat()),
  responseBytes: opt(fc.nat()),
  trace: opt(fc.record({ traceId: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), spanId: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }) })),
  error: opt(fc.record({ reason: fc.constantFrom(...REASONS), message: text, cause: opt(text) })),
})
const upstream = opt(fc.record({ address: opt(text), tlsVersion: opt(text), reused: fc.boolean(), resumed: fc.boolean(), handshakeMs: opt(num) }))

const withoutTime = (line: string): string => line.replace(/,"time":"[^"]*"/, ',"time":"T"')

describe('access line', () => {
  it('has the bytes pino writes for the same fields, for any request record', () => {
    const lines: string[] = []
    const log = createLog({ destination: { write: (s: string) => void lines.push(s) } })
    const reference: string[] = []
    const ref = pino({ formatters: { level: (label: string) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => void reference.push(s) })
    fc.assert(
      fc.property(record, upstream, (g, up) => {
        const r: RequestRecord = {
          id: g.id,
          mode: g.mode,
          method: g.method,
          status: g.status,
          durationMs: g.durationMs,
          facts: { endpoint: g.endpoint, caller: g.caller, tenant: g.tenant, upstreamMs: g.upstreamMs, ...(g.trace ? { trace: g.trace as unknown as RequestTrace } : {}) },
          requestBytes: g.requestBytes,
          responseBytes: g.responseBytes,
          ...(g.error ? { error: new GatewayError(g.error.reason, g.error.message, g.error.cause === undefined ? {} : { cause: new Error(g.error.cause) }) } : {}),
        }
        const u: UpstreamFacts | undefined = up && { ...up }
        lines.length = 0
        reference.length = 0
        log.access(r, u)
        if (r.status >= 500) ref.warn(pinoFields(r, u), 'request')
        else ref.info(pinoFields(r, u), 'request')
        expect(lines).toHaveLength(1)
        expect(withoutTime(lines[0] ?? '')).toBe(withoutTime(reference[0] ?? ''))
      }),
      { seed: 2121, numRuns: 3000 },
    )
  })
})
