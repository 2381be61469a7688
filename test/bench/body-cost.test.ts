import { describe, expect, it } from 'vitest'
import { bodyCostMarkdown, bodyCosts, type Row } from '../../bench/report.js'
import type { BodyKind, PathId } from '../../bench/paths.js'

function row(path: PathId, label: string, body: BodyKind, cpuUsPerReq: number | null): Row {
  return {
    path, label, body, cpuUsPerReq, mainCpuUsPerReq: null, rounds: 3, rps: 1000, p50Ms: 1, p99Ms: 2, pacedP50Ms: 0.5, pacedP99Ms: 1, pacedRps: 1000,
    handshakesPer1k: 0, replacedPer1k: 0, poolSize: 50, poolGrowth: 0, settleMs: 250, requests: 3000, errors: 0, mismatches: 0, non200: 0, rpsVsNginx: 1, rpsVsDirect: 1,
    cpuVsNginx: null, cpuVsFloor: null, addedPacedP50Ms: 0, peakRssMiB: null,
  }
}

// The gateway row comes first in the input: the floor is still the first row of the table.
const ROWS = [
  row('gateway_mtls', 'gateway, mTLS only', 'empty', 100),
  row('gateway_mtls', 'gateway, mTLS only', '64k', 260),
  row('undici_forwarder', 'floor', 'empty', 100),
  row('undici_forwarder', 'floor', '64k', 240),
  row('direct', 'direct', 'empty', null),
  row('direct', 'direct', '64k', null),
  row('gateway_connect', 'gateway, CONNECT interception', 'empty', 120),
]

describe('bodyCosts (what a 64 KiB body adds, beside the floor)', () => {
  it('gives each path with both bodies its added cost, its ratio to empty and its added cost against the floor\'s', () => {
    const costs = bodyCosts(ROWS)
    expect(costs.map((c) => c.label)).toEqual(['floor', 'gateway, mTLS only'])
    const [floor, mtls] = costs
    expect(floor).toEqual({ label: 'floor', emptyUs: 100, bodyUs: 240, addedUs: 140, vsEmpty: 2.4, addedVsFloor: 1 })
    expect(mtls?.addedUs).toBe(160)
    expect(mtls?.vsEmpty).toBeCloseTo(2.6, 10)
    expect(mtls?.addedVsFloor).toBeCloseTo(160 / 140, 10)
  })

  it('has no floor column without the floor, and nothing for a path without a CPU figure or a 64 KiB row', () => {
    const costs = bodyCosts(ROWS.filter((r) => r.path !== 'undici_forwarder'))
    expect(costs).toHaveLength(1)
    expect(costs[0]?.addedVsFloor).toBeNull()
    expect(bodyCosts(ROWS.filter((r) => r.body === 'empty'))).toEqual([])
  })

  it('prints one table row per path with the figures rounded as the other tables are', () => {
    const md = bodyCostMarkdown(bodyCosts(ROWS))
    expect(md).toContain('| floor | 100 | 240 | 140 | 2.40 × | 1.00 × |')
    expect(md).toContain('| gateway, mTLS only | 100 | 260 | 160 | 2.60 × | 1.14 × |')
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(3) // header + 2 rows
  })
})
