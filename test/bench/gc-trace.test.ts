import { describe, expect, it } from 'vitest'
import { gcFacts } from '../../bench/gc-trace.js'

// Lines as Node 24 and Node 20 print them with --trace-gc.
const PROMOTING = [
  '[10842:0x2e1a6000]     3943 ms: Scavenge 78.5 (168.2) -> 55.9 (173.9) MB, pooled: 4 MB, 25.19 / 0.01 ms  (average mu = 0.986, current mu = 0.992) task;',
  '{"level":"info","msg":"an access line between trace lines"}',
  '[10842:0x2e1a6000]     4335 ms: Scavenge 95.7 (173.9) -> 69.4 (185.4) MB, pooled: 0 MB, 27.87 / 0.01 ms  (average mu = 0.986, current mu = 0.992) task;',
  '[10842:0x2e1a6000]     4627 ms: Scavenge 107.3 (185.4) -> 82.5 (199.4) MB, pooled: 0 MB, 50.53 / 0.02 ms  (average mu = 0.986, current mu = 0.992)',
  '[10842:0x2e1a6000]     4965 ms: Mark-Compact 114.9 (242.9) -> 28.0 (189.2) MB, pooled: 46 MB, 5.75 / 0.10 ms  (+ 11.3 ms in 22 steps since start of marking) finalize incremental marking via task; GC in old space requested',
  '[10842:0x2e1a6000]     5107 ms: Scavenge 79.6 (181.4) -> 41.3 (181.4) MB, pooled: 6 MB, 11.66 / 0.01 ms',
].join('\n')
const YOUNG_DYING = [
  '[9733:0x850eec0]     2851 ms: Scavenge 38.3 (73.7) -> 25.4 (73.7) MB, 1.26 / 0.01 ms  (average mu = 0.988, current mu = 0.988) task; ',
  '[9733:0x850eec0]     2953 ms: Scavenge 38.4 (73.7) -> 25.4 (73.7) MB, 1.17 / 0.00 ms  (average mu = 0.988, current mu = 0.988) task; ',
  '[9733:0x850eec0]     3046 ms: Scavenge 38.5 (73.7) -> 25.2 (73.7) MB, 1.10 / 0.01 ms  (average mu = 0.988, current mu = 0.988) task; ',
].join('\n')

describe('gcFacts (the stage table\'s GC rows)', () => {
  it('counts young and full collections, their pause and the heap kept between young ones', () => {
    const f = gcFacts(PROMOTING, 2000)
    expect(f?.full).toBe(1)
    // The mark-compact's 5.75 ms pause and 11.3 ms of incremental steps, over 2,000 requests.
    expect(f?.fullUsPerReq).toBeCloseTo(((5.75 + 11.3) * 1000) / 2000, 5)
    expect(f?.youngPer1k).toBeCloseTo(2, 5) // 4 scavenges / 2,000 requests
    expect(f?.youngPauseMsPer1k).toBeCloseTo(((25.19 + 27.87 + 50.53 + 11.66) * 1000) / 2000, 5)
    // 55.9 → 69.4 → 82.5, then the mark-compact starts a new chain: (13.5 + 13.1) MB over 2,000 requests.
    expect(f?.keptKbPerReq).toBeCloseTo(((69.4 - 55.9 + (82.5 - 69.4)) * 1024) / 2000, 5)
  })

  it('reports nothing kept when every collection ends at the same or a lower heap', () => {
    const f = gcFacts(YOUNG_DYING, 1000)
    expect(f).toMatchObject({ youngPer1k: 3, full: 0, fullUsPerReq: 0, keptKbPerReq: 0 })
    expect(f?.youngPauseMsPer1k).toBeCloseTo(1.26 + 1.17 + 1.1, 5)
  })

  it('adds each mark-compact\'s pause and incremental steps, as Node 24 prints them under 64 KiB bodies', () => {
    const lines = [
      '[7070:0x3472a000]     4918 ms: Mark-Compact 15.9 (45.9) -> 10.7 (45.9) MB, pooled: 4 MB, 2.12 / 0.00 ms  (+ 3.2 ms in 54 steps since start of marking, biggest step 0.2 ms, walltime since start of marking 13 ms) (average mu = 0.938, current mu = 0.954) finalize incremental marking via task; GC in old space requested',
      '[7070:0x3472a000]     5082 ms: Mark-Compact 20.8 (45.9) -> 10.9 (45.9) MB, pooled: 4 MB, 1.45 / 0.00 ms  (+ 4.6 ms in 15 steps since start of marking, biggest step 4.2 ms, walltime since start of marking 12 ms) (average mu = 0.954, current mu = 0.964) finalize incremental marking via task; GC in old space requested',
      '[7070:0x3472a000]     5200 ms: Mark-Compact 18.0 (45.9) -> 10.7 (45.9) MB, pooled: 4 MB, 5.21 / 0.00 ms  (average mu = 0.910, current mu = 0.869) allocation failure',
    ].join('\n')
    const f = gcFacts(lines, 500)
    expect(f).toMatchObject({ youngPer1k: 0, full: 3 })
    expect(f?.fullUsPerReq).toBeCloseTo(((2.12 + 3.2 + 1.45 + 4.6 + 5.21) * 1000) / 500, 5)
  })

  it('is undefined without trace lines (a process not run with --trace-gc)', () => {
    expect(gcFacts('{"msg":"listening"}\n', 10)).toBeUndefined()
  })
})
