/**
 * Span drops in the log (docs/tracing.md, Export and failure): with a collector that takes exports
 * and never answers, a flood past the 4096 held spans writes one `tracing: dropping spans` warning
 * when drops start and one `tracing: spans no longer dropped` with their count once none came for
 * the quiet window (30 s; shorter here), never a line per span; a second flood is a second
 * episode. Before, drops showed only in `mtls_gateway_trace_spans_dropped_total`. The gateway's
 * tracer with serve's hooks (tracingOptions) and a real hung collector; and a seeded property over
 * generated bursts of drops for the episode counting itself.
 */
import { Writable } from 'node:stream'
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startTracing, type Tracing } from '../../src/tracing/index.js'
import { dropEpisodes } from '../../src/tracing/drop-episodes.js'
import { tracingOptions } from '../../src/cli/tracing-options.js'
import type { GatewayRef } from '../../src/proxy/listener.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { eventually } from '../support/eventually.js'

let collector: HungUpstream
const tracers: Tracing[] = []
const LIMIT = 4096
const SAMPLER = { ratio: 1, parentBased: true }

beforeAll(async () => {
  // The hung collector: takes the connection and the request, never answers.
  collector = await startHungUpstream({ read: true })
})

afterAll(async () => {
  await collector?.close()
  await Promise.all(tracers.map((t) => t.shutdown(1000)))
})

afterEach(() => void vi.useRealTimers())

/** The gateway's log as serve writes it, one parsed line each. */
function logLines(): { lines: Record<string, unknown>[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    },
  })
  return { lines, logger: pino({ level: 'info' }, sink) }
}

/** Ends `n` server spans whose caller set the sampled flag (ids from `from`). */
function endSampled(t: Tracing, from: number, n: number): void {
  for (let i = from; i < from + n; i++) t.request({ traceparent: `00-${i.toString(16).padStart(32, '0')}-${'1'.repeat(16)}-01` }).end({ method: 'GET', status: 200, mode: 'route' })
}

describe('spans dropped while a collector never answers', () => {
  it('log one line when drops start and one with the count when they stop, per episode, never per span', async () => {
    const { lines, logger } = logLines()
    // Only the sampler settings are read from the snapshot by these hooks.
    const ref = { current: { config: { tracing: { sampler: SAMPLER } } } } as unknown as GatewayRef
    const tracing = await startTracing(
      { enabled: true, serviceName: 'drop-lines', sampler: SAMPLER, otlp: { endpoint: `http://127.0.0.1:${collector.port}/v1/traces`, protocol: 'http/protobuf', headers: {}, timeoutMs: 60_000, tls: {} } },
      { ...tracingOptions(ref, logger), dropQuietMs: 200 },
    )
    if (!tracing) throw new Error('tracing is on in this test')
    tracers.push(tracing)
    const named = (msg: string): Record<string, unknown>[] => lines.filter((l) => l.msg === msg)
    // A synchronous flood: no export can return during it, so exactly LIMIT are held and 300 dropped.
    endSampled(tracing, 1, LIMIT + 300)
    expect(tracing.droppedSpans()).toBe(300)
    const first = await eventually(() => named('tracing: spans no longer dropped')[0], 30_000, 'the end of the first episode')
    expect(first).toMatchObject({ level: 40, spans: 300, quietMs: 200 })
    expect(named('tracing: dropping spans')).toHaveLength(1)
    expect(named('tracing: dropping spans')[0]).toMatchObject({ level: 40, limit: LIMIT })
    // The spans are still held (the collector never answered): a second flood is a second episode.
    endSampled(tracing, LIMIT + 301, 50)
    const second = await eventually(() => named('tracing: spans no longer dropped')[1], 30_000, 'the end of the second episode')
    expect(second).toMatchObject({ spans: 50 })
    expect(named('tracing: dropping spans')).toHaveLength(2)
    expect(tracing.droppedSpans()).toBe(350)
  }, 120_000)
})

describe('drop episodes', () => {
  it('one start and one end per episode, whose counts sum to the drops, for generated bursts (seeded)', async () => {
    const QUIET = 1000
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ drops: fc.integer({ min: 1, max: 50 }), gapMs: fc.integer({ min: 0, max: 3 * QUIET }) }), { minLength: 1, maxLength: 12 }), async (bursts) => {
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
        const events: string[] = []
        const counts: number[] = []
        const e = dropEpisodes({ started: () => events.push('start'), ended: (n) => (events.push('end'), counts.push(n)), quietMs: QUIET })
        for (const b of bursts) {
          for (let i = 0; i < b.drops; i++) e.dropped()
          vi.advanceTimersByTime(b.gapMs)
        }
        vi.advanceTimersByTime(QUIET)
        vi.useRealTimers()
        // Starts and ends alternate, the last episode ended, and no drop went uncounted.
        expect(events.join(',')).toBe(Array.from({ length: counts.length }, () => 'start,end').join(','))
        expect(counts.reduce((a, b) => a + b, 0)).toBe(bursts.reduce((a, b) => a + b.drops, 0))
        // An episode ends one quiet window after its last drop: a burst after a gap of a window or more
        // starts a new one, one after a shorter gap goes on with it.
        expect(counts.length).toBe(1 + bursts.slice(0, -1).filter((b) => b.gapMs >= QUIET).length)
        // Nothing more happens once the episode ended.
        e.close()
        expect(events.length).toBe(2 * counts.length)
      }),
      { seed: 35, numRuns: 200 },
    )
  })
})
