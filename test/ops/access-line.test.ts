/**
 * The access line is serialised by hand (src/ops/log.ts) for speed; operators' parsers were
 * built on what pino writes. Every generated request record must give the same bytes as pino
 * logging the same fields in the same order (the timestamp aside, which differs by clock).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
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
    clientAddress: r.clientAddress,
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
  clientAddress: opt(text),
  requestBytes: opt(fc.nat()),
  responseBytes: opt(fc.nat()),
  trace: opt(fc.record({ traceId: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), spanId: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }) })),
  error: opt(fc.record({ reason: fc.constantFrom(...REASONS), message: text, cause: opt(text) })),
})
const upstream = opt(fc.record({ address: opt(text), tlsVersion: opt(text), reused: fc.boolean(), resumed: fc.boolean(), handshakeMs: opt(num) }))

const withoutTime = (line: string): string => line.replace(/,"time":"[^"]*"/, ',"time":"T"')

function toRecord(g: Generated): RequestRecord {
  return {
    id: g.id,
    mode: g.mode,
    method: g.method,
    status: g.status,
    durationMs: g.durationMs,
    facts: { endpoint: g.endpoint, caller: g.caller, tenant: g.tenant, upstreamMs: g.upstreamMs, ...(g.trace ? { trace: g.trace as unknown as RequestTrace } : {}) },
    clientAddress: g.clientAddress,
    requestBytes: g.requestBytes,
    responseBytes: g.responseBytes,
    ...(g.error ? { error: new GatewayError(g.error.reason, g.error.message, g.error.cause === undefined ? {} : { cause: new Error(g.error.cause) }) } : {}),
  }
}
/** warn for a 5xx of the gateway's or an upstream's; a 505 (the client's HTTP version), a 501 (its transfer coding) and a 503 too_many_pipelined (its pipelining) are info, like a 4xx. */
const CLIENTS_5XX: readonly (string | undefined)[] = ['http_version_not_supported', 'transfer_coding_not_implemented', 'too_many_pipelined']
const levelOf = (r: RequestRecord): 'warn' | 'info' => (r.status >= 500 && !CLIENTS_5XX.includes(r.error?.reason) ? 'warn' : 'info')
type Generated = typeof record extends fc.Arbitrary<infer T> ? T : never

describe('access line', () => {
  it('has the bytes pino writes for the same fields, for any request record', () => {
    const lines: string[] = []
    const log = createLog({ destination: { write: (s: string) => void lines.push(s) } })
    const reference: string[] = []
    const ref = pino({ formatters: { level: (label: string) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => void reference.push(s) })
    fc.assert(
      fc.property(record, upstream, (g, up) => {
        const r = toRecord(g)
        const u: UpstreamFacts | undefined = up && { ...up }
        lines.length = 0
        reference.length = 0
        log.access(r, u)
        ref[levelOf(r)](pinoFields(r, u), 'request')
        expect(lines).toHaveLength(1)
        expect(withoutTime(lines[0] ?? '')).toBe(withoutTime(reference[0] ?? ''))
      }),
      { seed: 2121, numRuns: 3000 },
    )
  })

  // The upstream observer hands every request on a connection one frozen facts object, whose
  // fields the writer makes once; an object that is not frozen may change between requests.
  it('has pino\'s bytes when requests share frozen facts objects, and when an unfrozen one changes (2,000 sequences)', () => {
    const lines: string[] = []
    const log = createLog({ destination: { write: (s: string) => void lines.push(s) } })
    const reference: string[] = []
    const ref = pino({ formatters: { level: (label: string) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => void reference.push(s) })
    const facts = fc.record({ address: opt(text), tlsVersion: opt(text), reused: fc.boolean(), resumed: fc.boolean(), handshakeMs: opt(num) })
    fc.assert(
      fc.property(fc.array(facts, { minLength: 1, maxLength: 3 }), facts, fc.array(fc.tuple(record, fc.nat(), facts), { minLength: 1, maxLength: 8 }), (pool, start, calls) => {
        const shared = pool.map((f) => Object.freeze({ ...f }))
        const changing: UpstreamFacts = { ...start }
        for (const [g, pick, next] of calls) {
          const r = toRecord(g)
          const frozen = pick % 2 === 0
          const up = frozen ? (shared[pick % shared.length] as UpstreamFacts) : Object.assign(changing, next)
          lines.length = 0
          reference.length = 0
          log.access(r, up)
          ref[levelOf(r)](pinoFields(r, up), 'request')
          expect(withoutTime(lines[0] ?? '')).toBe(withoutTime(reference[0] ?? ''))
        }
      }),
      { seed: 2122, numRuns: 2000 },
    )
  })
})

// Through the batching sink an access line is rendered when its batch is written, not when the
// request ends. The file must hold exactly what an immediate writer produced for the same calls,
// in the same order with other log lines, and each line's time is when access() was called.
describe('access line through the batching sink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-access-'))
  afterEach(() => vi.useRealTimers())
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes the bytes an immediate writer gives, in call order with other lines (300 generated sequences)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 11, 2, 10, 0, 0, 7) })
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(record, upstream, fc.option(text, { nil: undefined })), { minLength: 1, maxLength: 60 }), async (calls) => {
        const file = join(dir, `run-${run++}.log`)
        const fd = openSync(file, 'w')
        try {
          const batched = createLog({ fd })
          const lines: string[] = []
          const immediate = createLog({ destination: { write: (s: string) => void lines.push(s) } })
          for (const [g, up, note] of calls) {
            for (const log of [batched, immediate]) {
              // Another line between access lines (pino's own path, plain strings into the sink).
              if (note !== undefined) log.logger.info({ note }, 'between')
              log.access(toRecord(g), up && { ...up })
            }
          }
          await batched.end()
          expect(readFileSync(file, 'utf8')).toBe(lines.join(''))
        } finally {
          closeSync(fd)
          rmSync(file, { force: true })
        }
      }),
      { seed: 0xacce55, numRuns: 300 },
    )
  })

  it('stamps each line with the time of its access() call, not of the write', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 11, 2, 10, 0, 0, 250) })
    const file = join(dir, 'time.log')
    const fd = openSync(file, 'w')
    try {
      const log = createLog({ fd })
      const r = (id: string): RequestRecord => ({ id, mode: 'route', method: 'GET', status: 200, durationMs: 1, facts: {} })
      log.access(r('a'))
      vi.setSystemTime(Date.UTC(2026, 11, 2, 10, 0, 3, 9))
      log.access(r('b'))
      vi.setSystemTime(Date.UTC(2026, 11, 2, 11, 0, 0, 0))
      await log.end()
      const times = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { time: string }).time)
      expect(times).toEqual(['2026-12-02T10:00:00.250Z', '2026-12-02T10:00:03.009Z'])
    } finally {
      closeSync(fd)
      rmSync(file, { force: true })
    }
  })
})
