import fc from 'fast-check'
import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createPendingHistogram } from '../../src/ops/pending-histograms.js'

// Observations kept as plain numbers and added at read time must read exactly as prom-client's
// own observe would have made them: same buckets, counts and series, whatever the values, the
// label sets, direct observes in between (the exemplar path) and reads in between.
type Json = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

const LABELS = [
  { endpoint: 'partner', mode: 'forward' },
  { endpoint: 'partner', mode: 'connect' },
  { endpoint: 'billing', mode: 'forward' },
] as const

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const value = fc.oneof(
  fc.constantFrom(...BUCKETS, 0, -1, 31, 1e9, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.double({ min: -1, max: 40, noNaN: true }),
)
const step = fc.oneof(
  fc.record({ kind: fc.constant('pending' as const), labels: fc.nat(LABELS.length - 1), v: value }),
  fc.record({ kind: fc.constant('direct' as const), labels: fc.nat(LABELS.length - 1), v: value }),
  fc.record({ kind: fc.constant('read' as const) }),
)

/** Every sample of the histogram, the sums apart (added in another order: equal up to rounding). */
function split(json: Json): { exact: string[]; sums: Map<string, number> } {
  const exact: string[] = []
  const sums = new Map<string, number>()
  for (const m of json) {
    // A histogram's values name their sample (`_bucket`, `_sum`, `_count`); prom-client's JSON type leaves metricName out.
    for (const v of m.values as readonly ((typeof m.values)[number] & { metricName?: string })[]) {
      const key = `${v.metricName ?? m.name}${JSON.stringify(Object.entries(v.labels).sort())}`
      if (v.metricName?.endsWith('_sum')) sums.set(key, v.value)
      else exact.push(`${key} ${v.value}`)
    }
  }
  return { exact: exact.sort(), sums }
}

describe('histogram observations added at read time', () => {
  it('read as prom-client observe made them, with direct observes and reads in between (2,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const plain = new Registry()
        const reference = new Histogram({ name: 'h', help: 'h', labelNames: ['endpoint', 'mode'] as const, buckets: BUCKETS, registers: [plain] })
        const batched = new Registry()
        const pending = createPendingHistogram<'endpoint' | 'mode'>(BUCKETS)
        const histogram = new Histogram({ name: 'h', help: 'h', labelNames: ['endpoint', 'mode'] as const, buckets: BUCKETS, registers: [batched], collect() { pending.flush(this) } })
        const slots = LABELS.map((l) => pending.slot(l))
        for (const s of steps) {
          if (s.kind === 'read') {
            await batched.getMetricsAsJSON()
            continue
          }
          const labels = LABELS[s.labels] as (typeof LABELS)[number]
          // prom-client throws on a non-finite value; a slot drops it.
          if (Number.isFinite(s.v)) reference.observe(labels, s.v)
          if (s.kind === 'pending') (slots[s.labels] as (typeof slots)[number]).observe(s.v)
          else if (Number.isFinite(s.v)) histogram.observe(labels, s.v)
        }
        const want = split(await plain.getMetricsAsJSON())
        const got = split(await batched.getMetricsAsJSON())
        expect(got.exact).toEqual(want.exact)
        expect([...got.sums.keys()].sort()).toEqual([...want.sums.keys()].sort())
        for (const [k, sum] of want.sums) expect(got.sums.get(k)).toBeCloseTo(sum, 6)
        // A second read adds nothing twice.
        expect(split(await batched.getMetricsAsJSON()).exact).toEqual(want.exact)
      }),
      { numRuns: 2_000, seed: 0x5eed21 },
    )
  })

  it('makes the series on first read, in the text exposition too', async () => {
    const registry = new Registry()
    const pending = createPendingHistogram<'endpoint'>([0.1, 1])
    new Histogram({ name: 'upstream_seconds', help: 'h', labelNames: ['endpoint'] as const, buckets: [0.1, 1], registers: [registry], collect() { pending.flush(this) } })
    const slot = pending.slot({ endpoint: 'partner' })
    expect(await registry.metrics()).not.toContain('partner')
    slot.observe(0.05)
    slot.observe(0.5)
    slot.observe(7)
    const text = await registry.metrics()
    expect(text).toContain('upstream_seconds_bucket{le="0.1",endpoint="partner"} 1\n')
    expect(text).toContain('upstream_seconds_bucket{le="1",endpoint="partner"} 2\n')
    expect(text).toContain('upstream_seconds_bucket{le="+Inf",endpoint="partner"} 3\n')
    expect(text).toContain('upstream_seconds_sum{endpoint="partner"} 7.55\n')
    expect(text).toContain('upstream_seconds_count{endpoint="partner"} 3\n')
  })
})
