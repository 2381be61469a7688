import { describe, expect, it } from 'vitest'
import { idleMarkdown, idleRow } from '../../bench/idle-run.js'

describe('the idle-spell table', () => {
  it('reads each window against the median of the last three', () => {
    const row = idleRow('gateway_realistic', 60, 2000, [600, 420, 330, 310, 290, 300].map((us, i) => ({ us, opened: i === 0 ? 50 : 0 })), 0)
    expect(row.settledUs).toBe(300)
    expect(row.vsSettled.map((x) => x.toFixed(2))).toEqual(['2.00', '1.40', '1.10', '1.03', '0.97', '1.00'])
    expect(row).toMatchObject({ path: 'gateway_realistic', idleSeconds: 60, rate: 2000, windowsUs: [600, 420, 330, 310, 290, 300], upstreamConnections: [50, 0, 0, 0, 0, 0], errors: 0 })
  })

  it('prints a row per path and a column per window', () => {
    const windows = (us: number[], opened: number[]): { us: number; opened: number }[] => us.map((x, i) => ({ us: x, opened: opened[i] ?? 0 }))
    const md = idleMarkdown([idleRow('undici_forwarder', 60, 2000, windows([200, 100, 100, 100], [50, 0, 0, 0]), 0), idleRow('gateway_realistic', 60, 2000, windows([450, 150, 160, 140], [48, 2, 0, 0]), 0)])
    expect(md.split('\n')).toEqual([
      '| path | settled µs/req | 1 s | 2 s | 3 s | 4 s | upstream connections opened, per window |',
      '|---|--:|--:|--:|--:|--:|---|',
      '| undici_forwarder | 100 | 2.00 × | 1.00 × | 1.00 × | 1.00 × | 50 0 0 0 |',
      '| gateway_realistic | 150 | 3.00 × | 1.00 × | 1.07 × | 0.93 × | 48 2 0 0 |',
      '',
    ])
  })

  it('heads each column by when its window ended', () => {
    const row = idleRow('undici_forwarder', 1, 500, [300, 200, 100].map((us) => ({ us, opened: 0 })), 0, 500)
    expect(row.windowMs).toBe(500)
    expect(idleMarkdown([row]).split('\n')[0]).toBe('| path | settled µs/req | 0.5 s | 1 s | 1.5 s | upstream connections opened, per window |')
  })
})
