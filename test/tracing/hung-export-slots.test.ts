/**
 * A collector that hangs, with a long `tracing.otlp.timeout` (docs/tracing.md, Export and
 * failure): one export is unanswered at a time, so a hung collector holds one batch (512 spans)
 * until the timeout, and the rest of the 4096 wait in the queue to go out when it answers. Before,
 * the batch processor gave up waiting after its own 30 s and sent the next batch to the same hung
 * collector, every 30 s, until the exports held all 4096 (with a timeout of 4 minutes or more) and
 * every new span was dropped for as long as the timeout, even once the collector answered again.
 * And the timeout is at most 60 s. A real hung collector; the batch processor's timers are faked
 * (only setTimeout), so 31 s pass at once and no assertion is about time; the exporter's own
 * timeout is a socket timer and stays real.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { startTracing, type Tracing } from '../../src/tracing/index.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { configErrorLines } from '../support/config-problems.js'

let collector: HungUpstream
let tracing: Tracing | undefined
const BATCH = 512
const realSetTimeout = globalThis.setTimeout

beforeAll(async () => {
  // The hung collector: takes the connection and the request, never answers.
  collector = await startHungUpstream({ read: true })
})

afterAll(async () => {
  vi.useRealTimers()
  await collector?.close()
  await tracing?.shutdown(1000)
})

/** Waits (real time) until `check` holds; a generous deadline, no assertion on how long it took. */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => realSetTimeout(r, 20))
  }
}

/** Ends `n` server spans whose caller set the sampled flag (ids from `from`). */
function endSampled(t: Tracing, from: number, n: number): void {
  for (let i = from; i < from + n; i++) t.request({ traceparent: `00-${i.toString(16).padStart(32, '0')}-${'1'.repeat(16)}-01` }).end({ method: 'GET', status: 200, mode: 'route' })
}

describe('a hung collector with a long export timeout', () => {
  it('holds one export of 512 spans at a time; the next batch waits for its answer or its timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const sampler = { ratio: 1, parentBased: true }
    tracing = await startTracing(
      { enabled: true, serviceName: 'hung-export-slots', sampler, otlp: { endpoint: `http://127.0.0.1:${collector.port}/v1/traces`, protocol: 'http/protobuf', headers: {}, timeoutMs: 60_000, tls: {} } },
      { sampler: () => sampler, onExportFailure: () => {}, version: 'test' },
    )
    if (!tracing) throw new Error('tracing is on in this test')
    const t = tracing
    // A full batch is exported at once; the next 3 batches queue behind it.
    endSampled(t, 1, 4 * BATCH)
    expect(t.exportingSpans()).toBe(BATCH)
    // The collector took the export's connection and never answers.
    await until(() => collector.held.length === 1 && collector.held[0]!.bytesRead > 0, 'the export at the collector')
    // Past the batch processor's former 30 s export timeout, short of the exporter's 60 s.
    await vi.advanceTimersByTimeAsync(31_000)
    await new Promise((r) => setImmediate(r))
    expect(t.exportingSpans()).toBe(BATCH)
    expect(collector.held).toHaveLength(1)
    // Nothing was dropped: the other three batches wait in the queue, within the 4096 held.
    expect(t.droppedSpans()).toBe(0)
  })

  it('tracing.otlp.timeout is at most 60s', () => {
    const yaml = (timeout: string): string => `endpoints:\n  partner: { url: "https://partner.test", tls: { dir: /nonexistent } }\ntracing:\n  enabled: true\n  otlp: { endpoint: "http://127.0.0.1:4318/v1/traces", timeout: ${timeout} }\n`
    const lines = configErrorLines(() => parseConfig('/etc/gw.yaml', yaml('61s'), { env: {} }))
    expect(lines.filter((l) => l.includes('tracing.otlp.timeout'))).toEqual([expect.stringContaining('tracing.otlp.timeout: 61s is longer than the maximum, 60s: one export at a time is sent')])
  })
})
