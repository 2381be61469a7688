import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { rssTrend } from '../../bench/soak.js'

const MB = 1024 * 1024
/** One RSS sample a second: a sawtooth from `low` climbing `step` MB a second over `period` seconds, plus `leak` MB per second. */
function sawtooth(seconds: number, low: number, step: number, period: number, leak = 0): { t: number; rss: number }[] {
  return Array.from({ length: seconds }, (_, i) => ({ t: i + 1, rss: (low + step * (i % period) + leak * i) * MB }))
}

describe('rssTrend (the soak\'s drift: troughs and peaks, last third against first third)', () => {
  it('calls a steady sawtooth flat wherever its last seconds fall on a tooth', () => {
    // Ends at the top of a tooth: a last-10-s window against seconds 10–20 would read about +30 %.
    const steady = sawtooth(299, 155, 6, 10)
    expect(steady.at(-1)?.rss).toBe((155 + 6 * 8) * MB)
    const trend = rssTrend(steady)
    expect(trend.troughDriftPct).toBeCloseTo(0, 6)
    expect(trend.peakDriftPct).toBeCloseTo(0, 6)
    expect(Math.abs(trend.driftPct)).toBeLessThan(1)
    expect(trend.rangePct).toBeCloseTo((54 / 155) * 100, 1)
  })

  it('shows a leak in the troughs, and reports the larger of the two drifts', () => {
    const leaking = rssTrend(sawtooth(300, 150, 5, 10, 0.15)) // 45 MB more by the end
    expect(leaking.troughDriftPct).toBeGreaterThan(15)
    expect(leaking.driftPct).toBe(Math.abs(leaking.troughDriftPct) >= Math.abs(leaking.peakDriftPct) ? leaking.troughDriftPct : leaking.peakDriftPct)
    expect(Math.abs(leaking.driftPct)).toBeGreaterThan(10)
  })

  it('reads a recorded 300 s soak (Node 20, 2026-12-02) as flat: troughs and peaks within 10 %', () => {
    const recorded = JSON.parse(readFileSync(new URL('../../bench/results/2026-12-02-session6.json', import.meta.url), 'utf8')) as { soak: { samples: { t: number; rss: number }[] } }
    const trend = rssTrend(recorded.soak.samples)
    expect(Math.abs(trend.troughDriftPct)).toBeLessThan(10)
    expect(Math.abs(trend.peakDriftPct)).toBeLessThan(10)
    expect(trend.rangePct).toBeGreaterThan(20) // a sawtooth, not a flat line
  })

  it('refuses a soak too short to have thirds', () => {
    expect(() => rssTrend([{ t: 11, rss: MB }, { t: 12, rss: MB }])).toThrow(/at least 3/)
  })
})
