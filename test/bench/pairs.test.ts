/**
 * The paired-windows summary: each window of this build is set against the other build's
 * window of the same pair, the medians and per-pair ratios come from matched pairs only, and
 * the count of pairs where this build was cheaper is the sign test the docs cite.
 */
import { describe, expect, it } from 'vitest'
import { summarizePairs, type PairSample } from '../../bench/pairs.js'

const sample = (pair: number, path: string, cpuUsPerReq: number, problems = 0): PairSample => ({ pair, path, body: 'empty', requests: 1000, cpuUsPerReq, errors: problems, mismatches: 0, non200: 0 })

describe('paired windows', () => {
  it('sets each window against the other build in the same pair', () => {
    const samples = [
      sample(1, 'gateway_realistic', 100), sample(1, 'gateway_realistic@before', 110),
      sample(2, 'gateway_realistic@before', 200), sample(2, 'gateway_realistic', 190),
      sample(3, 'gateway_realistic', 130), sample(3, 'gateway_realistic@before', 120, 2),
      // A window whose partner is missing is left out, not compared with another pair's.
      sample(4, 'gateway_realistic', 50),
    ]
    const [row, ...rest] = summarizePairs(samples)
    expect(rest).toEqual([])
    expect(row).toMatchObject({ path: 'gateway_realistic', body: 'empty', pairs: 3, mineUs: 130, theirsUs: 120, mineLower: 2, errors: 2 })
    // Per-pair ratios 100/110, 190/200, 130/120: the median is 0.95.
    expect(row?.ratio).toBeCloseTo(0.95, 10)
  })

  it('keeps paths and bodies apart', () => {
    const samples = [
      sample(1, 'gateway_mtls', 90), sample(1, 'gateway_mtls@before', 80),
      { ...sample(1, 'gateway_mtls', 300), body: '64k' as const }, { ...sample(1, 'gateway_mtls@before', 330), body: '64k' as const },
      sample(1, 'gateway_connect', 150), sample(1, 'gateway_connect@before', 160),
    ]
    const rows = summarizePairs(samples).map((r) => `${r.path}/${r.body} ${r.mineUs}/${r.theirsUs} ${r.mineLower}`)
    expect(rows.sort()).toEqual(['gateway_connect/empty 150/160 1', 'gateway_mtls/64k 300/330 1', 'gateway_mtls/empty 90/80 0'])
  })
})
