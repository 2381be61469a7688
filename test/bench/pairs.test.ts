/**
 * The paired-windows summaries: each window is set against its partner of the same pair (the
 * other build's, or the floor's of the same set), medians and per-pair ratios come from
 * matched pairs only, and the counts are the sign tests the docs and the targets cite.
 */
import { describe, expect, it } from 'vitest'
import { floorPairPlan, pairOrder, SAME, summarizeFloorPairs, summarizeLatencyPairs, summarizePairs, type PairSample } from '../../bench/pairs.js'
import { checkTargets, type Row } from '../../bench/report.js'

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

describe('paired windows with an A/A (--aa)', () => {
  it('sets this build against the other build and against its second process set apart', () => {
    const samples = [
      sample(1, 'gateway_mtls', 100), sample(1, 'gateway_mtls@before', 120), sample(1, 'gateway_mtls@same', 90),
      sample(2, 'gateway_mtls@before', 130), sample(2, 'gateway_mtls@same', 110), sample(2, 'gateway_mtls', 104),
      sample(3, 'gateway_mtls@same', 99), sample(3, 'gateway_mtls', 98), sample(3, 'gateway_mtls@before', 100),
    ]
    const [ab, ...abRest] = summarizePairs(samples)
    const [aa, ...aaRest] = summarizePairs(samples, SAME)
    expect([abRest, aaRest]).toEqual([[], []])
    // The @same windows are no third path of their own, and never count as the other build's.
    expect(ab).toMatchObject({ path: 'gateway_mtls', pairs: 3, mineUs: 100, theirsUs: 120, mineLower: 3 })
    expect(aa).toMatchObject({ path: 'gateway_mtls', pairs: 3, mineUs: 100, theirsUs: 99, mineLower: 2 })
    expect(aa?.ratio).toBeCloseTo(98 / 99, 10)
  })
})

describe('pair order', () => {
  it('alternates two members and rotates more, so each takes every place in turn', () => {
    expect([1, 2, 3, 4].map((p) => pairOrder(['A', 'B'], p).join(''))).toEqual(['AB', 'BA', 'AB', 'BA'])
    const four = [1, 2, 3, 4].map((p) => pairOrder(['a', 'b', 'c', 'd'], p))
    expect(four.map((o) => o.join(''))).toEqual(['abcd', 'bcda', 'cdab', 'dabc'])
    for (const m of ['a', 'b', 'c', 'd']) expect(new Set(four.map((o) => o.indexOf(m)))).toEqual(new Set([0, 1, 2, 3]))
  })
})

describe('floor-pair plan', () => {
  const paths = ['gateway_mtls', 'gateway_realistic', 'gateway_connect']
  it('takes every set once, all empty-body sets before any 64 KiB set, whatever order the bodies came in', () => {
    for (const bodies of [['empty', '64k'], ['64k', 'empty']] as const) {
      const plan = floorPairPlan(['node20', 'node24'], paths, bodies, 10)
      expect(plan).toHaveLength(2 * 3 * 2 * 10)
      expect(new Set(plan.map((x) => `${x.node}/${x.path}/${x.body}/${x.pair}`)).size).toBe(plan.length)
      const first64k = plan.findIndex((x) => x.body === '64k')
      expect(first64k).toBe(60)
      expect(plan.slice(first64k).every((x) => x.body === '64k')).toBe(true)
    }
  })

  it("lets a node's paths take turns set by set, so no path waits while another's sets all run", () => {
    const plan = floorPairPlan(['node20', 'node24'], paths, ['empty'], 10)
    for (const node of ['node20', 'node24']) {
      const mine = plan.filter((x) => x.node === node)
      // A node's sets are contiguous, in set order, each set with every path.
      expect(plan.slice(plan.indexOf(mine[0] as (typeof plan)[number]), plan.indexOf(mine[0] as (typeof plan)[number]) + mine.length)).toEqual(mine)
      expect(mine.map((x) => x.pair)).toEqual([...mine.map((x) => x.pair)].sort((a, b) => a - b))
      for (let pair = 1; pair <= 10; pair++) expect(mine.filter((x) => x.pair === pair).map((x) => x.path)).toEqual(paths)
      // Between two sets of one path, at most the other paths' sets.
      for (const path of paths) {
        const at = mine.flatMap((x, i) => (x.path === path ? [i] : []))
        for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBe(paths.length)
      }
    }
  })
})

const win = (group: string, pair: number, path: string, body: 'empty' | '64k', cpuUsPerReq: number, problems = 0): PairSample => ({ group, pair, path, body, requests: 1000, cpuUsPerReq, errors: 0, mismatches: 0, non200: problems })

describe('against the floor in paired windows', () => {
  // Two sets of the mTLS path (empty and 64 KiB, with the floor), one of realistic (empty only).
  const samples = [
    win('gateway_mtls', 1, 'undici_forwarder', 'empty', 100), win('gateway_mtls', 1, 'gateway_mtls', 'empty', 110),
    win('gateway_mtls', 1, 'undici_forwarder', '64k', 230), win('gateway_mtls', 1, 'gateway_mtls', '64k', 198),
    win('gateway_mtls', 2, 'gateway_mtls', 'empty', 250), win('gateway_mtls', 2, 'undici_forwarder', 'empty', 200),
    win('gateway_mtls', 2, 'gateway_mtls', '64k', 475, 1), win('gateway_mtls', 2, 'undici_forwarder', '64k', 440),
    win('gateway_mtls', 3, 'gateway_mtls', 'empty', 999), // its floor window is missing: left out
    // The floor measured again in realistic's set: never matched with mTLS's windows.
    win('gateway_realistic', 1, 'undici_forwarder', 'empty', 50), win('gateway_realistic', 1, 'gateway_realistic', 'empty', 80),
  ]
  const rows = summarizeFloorPairs(samples)

  it('takes each ratio within a set, against the floor of the same set and pair', () => {
    expect(rows.map((r) => `${r.path}/${r.body}/${r.pairs}`)).toEqual(['gateway_mtls/empty/2', 'gateway_mtls/64k/2', 'gateway_realistic/empty/1'])
    const [empty, big, realistic] = rows
    // Per pair 110/100 and 250/200.
    expect(empty?.perPair.map((x) => x.toFixed(3))).toEqual(['1.100', '1.250'])
    expect(empty?.vsFloor).toBeCloseTo(1.175, 10)
    expect(empty).toMatchObject({ gatewayUs: 180, floorUs: 150, errors: 0 })
    expect(empty?.vsEmpty).toBeUndefined()
    // 64 KiB against the same path's empty window of the same pair: 198/110 = 1.8, 475/250 = 1.9; the floor's own 2.3 and 2.2.
    expect(big?.perPairVsEmpty?.map((x) => x.toFixed(2))).toEqual(['1.80', '1.90'])
    expect(big?.vsEmpty).toBeCloseTo(1.85, 10)
    expect(big?.floorVsEmpty).toBeCloseTo(2.25, 10)
    expect(big?.errors).toBe(1)
    expect(realistic?.vsFloor).toBeCloseTo(1.6, 10)
  })

  it('gives the targets their CPU ratios, with the rounds\' figure beside them', () => {
    const row = (path: string, body: 'empty' | '64k', cpuUsPerReq: number, cpuVsFloor: number): Row => ({ path, body, cpuUsPerReq, cpuVsFloor, handshakesPer1k: 0, replacedPer1k: 0, poolGrowth: 0 }) as unknown as Row
    const rounds = [row('undici_forwarder', 'empty', 100, 1), row('gateway_mtls', 'empty', 150, 1.5), row('gateway_mtls', '64k', 400, 1.6), row('gateway_realistic', 'empty', 300, 3)]
    const targets = checkTargets(rounds, undefined, undefined, rows)
    const byName = Object.fromEntries(targets.map((t) => [t.name, t]))
    expect(byName['gateway_mtls CPU/request vs the floor (undici forwarder), paired windows']).toEqual({ name: 'gateway_mtls CPU/request vs the floor (undici forwarder), paired windows', goal: '≤ 1.2 ×', value: '1.18 × (1 of 2 pairs ≤ 1.2 ×; rounds: 1.50 ×)', met: true })
    expect(byName['gateway_realistic CPU/request vs the floor (undici forwarder), paired windows']).toMatchObject({ value: '1.60 × (1 of 1 pairs ≤ 1.6 ×; rounds: 3.00 ×)', met: true })
    expect(byName['gateway_mtls: 64 KiB body CPU vs empty, paired windows']).toMatchObject({ value: "1.85 × (2 of 2 pairs ≤ 2 ×; the floor's own: 2.25 ×; rounds: 2.67 ×)", met: true })
    // Without paired windows the rounds decide, under the old names.
    const plain = checkTargets(rounds, undefined, undefined)
    expect(plain.find((t) => t.name === 'gateway_mtls CPU/request vs the floor (undici forwarder)')).toMatchObject({ value: '1.50 ×', met: false })
    expect(plain.find((t) => t.name === 'gateway_mtls: 64 KiB body CPU vs empty')).toMatchObject({ value: '2.67 ×', met: false })
  })
})

describe('the 64 KiB sets against the empty ones, on a host whose speed drifts', () => {
  // Set 1: the host ran 1.5 × slower in the 64 KiB half (the probe 60 → 90 µs); set 2: it kept its speed (50 → 50).
  const probe = (body: 'empty' | '64k', pair: number, cpu: number): PairSample => win(`floor_probe:${body}`, pair, 'floor_probe', 'empty', cpu)
  const sets = [
    win('gateway_mtls', 1, 'undici_forwarder', 'empty', 100), win('gateway_mtls', 1, 'gateway_mtls', 'empty', 110), probe('empty', 1, 60),
    win('gateway_mtls', 2, 'gateway_mtls', 'empty', 120), win('gateway_mtls', 2, 'undici_forwarder', 'empty', 100), probe('empty', 2, 50),
    win('gateway_mtls', 1, 'undici_forwarder', '64k', 330), win('gateway_mtls', 1, 'gateway_mtls', '64k', 297), probe('64k', 1, 90),
    win('gateway_mtls', 2, 'gateway_mtls', '64k', 228), win('gateway_mtls', 2, 'undici_forwarder', '64k', 200), probe('64k', 2, 50),
  ]

  it('divides each pair\'s ratio by the probe\'s drift between its two sets, and keeps the plain figure beside it', () => {
    const rows = summarizeFloorPairs(sets)
    // The probe's windows are a gauge, never a row of their own.
    expect(rows.map((r) => `${r.path}/${r.body}`)).toEqual(['gateway_mtls/empty', 'gateway_mtls/64k'])
    const big = rows[1]
    // Plain: 297/110 = 2.7, 228/120 = 1.9; divided by 1.5 and 1: 1.8 and 1.9. The floor's: 3.3/1.5 = 2.2 and 2.0.
    expect(big?.perPairVsEmpty?.map((x) => x.toFixed(2))).toEqual(['1.80', '1.90'])
    expect(big?.vsEmpty).toBeCloseTo(1.85, 10)
    expect(big?.floorVsEmpty).toBeCloseTo(2.1, 10)
    expect(big?.hostDrift).toBeCloseTo(1.25, 10)
    expect(big?.uncorrectedVsEmpty).toBeCloseTo(2.3, 10)
    // The empty row is not touched by the probe.
    expect(rows[0]?.hostDrift).toBeUndefined()
    expect(rows[0]?.vsFloor).toBeCloseTo(1.15, 10)
    const round = (body: 'empty' | '64k', cpuUsPerReq: number): Row => ({ path: 'gateway_mtls', body, cpuUsPerReq, cpuVsFloor: 1, handshakesPer1k: 0, replacedPer1k: 0, poolGrowth: 0 }) as unknown as Row
    const targets = checkTargets([round('empty', 100), round('64k', 250)], undefined, undefined, rows)
    expect(targets.find((t) => t.name === 'gateway_mtls: 64 KiB body CPU vs empty, paired windows')?.value).toContain('host drift between the empty and 64 KiB sets 1.25 ×, divided out (uncorrected: 2.30 ×)')
  })

  it('leaves every pair as taken when one set number has no probe reading, rather than mixing the two measures', () => {
    const rows = summarizeFloorPairs(sets.filter((s) => !(s.group === 'floor_probe:64k' && s.pair === 2)))
    const big = rows.find((r) => r.body === '64k')
    expect(big?.perPairVsEmpty?.map((x) => x.toFixed(2))).toEqual(['2.70', '1.90'])
    expect(big?.hostDrift).toBeUndefined()
    expect(big?.uncorrectedVsEmpty).toBeUndefined()
  })
})

describe('added latency in paced windows', () => {
  const paced = (pair: number, path: string, p50: number, problems = 0): PairSample => ({ group: 'node20', pair, path, body: 'empty', requests: 1500, cpuUsPerReq: NaN, errors: problems, mismatches: 0, non200: 0, pacedP50Ms: p50 })
  const samples = [
    paced(1, 'direct', 0.3), paced(1, 'undici_forwarder', 0.6), paced(1, 'gateway_realistic', 0.7),
    paced(2, 'gateway_realistic', 1.4), paced(2, 'direct', 1.0), paced(2, 'undici_forwarder', 1.3, 1),
    paced(3, 'undici_forwarder', 0.5), paced(3, 'gateway_realistic', 0.9), paced(3, 'direct', 0.2),
    paced(4, 'gateway_realistic', 5), // no direct window in its set: left out
  ]
  it('takes each set against its own direct window, then the median', () => {
    const [row, ...rest] = summarizeLatencyPairs(samples)
    expect(rest).toEqual([])
    // Added per set: 0.4, 0.4, 0.7 (a slow stretch in set 2 moves direct and the path alike); the floor's 0.3, 0.3, 0.3.
    expect(row?.perPair.map((x) => x.toFixed(2))).toEqual(['0.40', '0.40', '0.70'])
    expect(row?.addedMs).toBeCloseTo(0.4, 10)
    expect(row?.floorAddedMs).toBeCloseTo(0.3, 10)
    expect(row?.directP50Ms).toBeCloseTo(0.3, 10)
    expect(row).toMatchObject({ path: 'gateway_realistic', pairs: 3, errors: 1 })
  })

  it('gives mTLS only a row of its own when its windows ran, against the same sets\' direct windows', () => {
    const withMtls = [...samples, paced(1, 'gateway_mtls', 0.5), paced(2, 'gateway_mtls', 1.3), paced(3, 'gateway_mtls', 0.55)]
    const rows = summarizeLatencyPairs(withMtls)
    expect(rows.map((r) => r.path)).toEqual(['gateway_realistic', 'gateway_mtls'])
    const mtls = rows[1]
    // Added per set: 0.2, 0.3, 0.35 (its own set's direct window each time).
    expect(mtls?.perPair.map((x) => x.toFixed(2))).toEqual(['0.20', '0.30', '0.35'])
    expect(mtls?.addedMs).toBeCloseTo(0.3, 10)
    expect(rows[0]?.addedMs).toBeCloseTo(0.4, 10)
    const target = checkTargets([], undefined, undefined, [], rows).find((t) => t.name.startsWith('realistic added p50'))
    // The target is realistic's, whatever the rows' order; mTLS only's figure is shown beside the floor's.
    expect(target?.value).toBe('0.40 ms (2 of 3 sets ≤ 0.5 ms; the floor adds 0.30 ms, mTLS only 0.30 ms)')
    expect(checkTargets([], undefined, undefined, [], [...rows].reverse()).find((t) => t.name.startsWith('realistic added p50'))?.value).toBe(target?.value)
  })

  it('gives the added-latency target its figure, with the rounds\' beside it', () => {
    const rows = [{ path: 'direct', body: 'empty', pacedP50Ms: 0.3 }, { path: 'gateway_realistic', body: 'empty', addedPacedP50Ms: 0.9, cpuVsFloor: null }] as unknown as Row[]
    const name = 'realistic added p50 over direct (paced, 50 conns)'
    const paired = checkTargets(rows, undefined, undefined, [], summarizeLatencyPairs(samples)).find((t) => t.name.startsWith(name))
    expect(paired).toEqual({ name: `${name}, paired windows`, goal: '≤ 0.5 ms', value: '0.40 ms (2 of 3 sets ≤ 0.5 ms; the floor adds 0.30 ms; rounds: 0.90 ms)', met: true })
    expect(checkTargets(rows, undefined, undefined).find((t) => t.name.startsWith(name))).toEqual({ name, goal: '≤ 0.5 ms', value: '0.90 ms', met: false })
  })
})
