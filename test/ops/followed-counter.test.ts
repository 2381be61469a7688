import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { registerFollowedCounter, type CountDrop } from '../../src/ops/watched-metrics.js'

/** A followed counter on its own registry; `reads` are the source's counts, one per scrape; returns what each scrape exported. */
async function follow(onDrop: CountDrop, reads: number[]): Promise<number[]> {
  const registry = new Registry()
  let source = 0
  registerFollowedCounter([registry], { name: 'followed_total', help: 'test', count: () => source, onDrop })
  const out: number[] = []
  for (const n of reads) {
    source = n
    const [family] = await registry.getMetricsAsJSON()
    out.push(Number(family?.values[0]?.value))
  }
  return out
}

describe('registerFollowedCounter', () => {
  it('adds only increases, whichever the drop rule', async () => {
    for (const onDrop of ['rebase', 'hold'] as const) expect(await follow(onDrop, [0, 2, 2, 5])).toEqual([0, 2, 2, 5])
  })

  it('rebase: a source that drops (replaced, counting from 0 again) has its next increments counted from the lower count', async () => {
    expect(await follow('rebase', [5, 0, 3, 4])).toEqual([5, 5, 8, 9])
  })

  it('hold: a source that reads lower counts nothing until it passes the highest count seen', async () => {
    expect(await follow('hold', [5, 0, 3, 4, 7])).toEqual([5, 5, 5, 5, 7])
  })
})
