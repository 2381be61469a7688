/**
 * In-flight tracking (src/ops/in-flight.ts) keeps no finished request alive through young
 * collections: a production gateway's finished requests were promoted whole while a Set held
 * its running responses (src/ops/running-list.ts, docs/performance.md). A child Node, with
 * collections asked for by hand, pushes responses through the tracker as the listener pins
 * them, 50 in flight, and ends each with 'close'; the finished ones carry a large payload, the
 * ones in flight at each young collection none. What the old generation gains over 20 rounds is
 * what finished requests left reachable: about 0.7 MB with the list, 20–30 MB with the Set.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const PROBE = `
import { EventEmitter } from 'node:events'
import { getHeapSpaceStatistics } from 'node:v8'
import { trackInFlight } from './dist/src/ops/in-flight.js'
import { pinSnapshot } from './dist/src/proxy/pin-snapshot.js'
const server = {}
const ref = { current: {} }
const tracker = trackInFlight(server)
const oldUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_used_size
const inFlight = []
const request = (payload) => {
  const res = new EventEmitter()
  res.payload = payload ? Array.from({ length: 2000 }, (_, i) => ({ i })) : undefined
  pinSnapshot(server, ref, res)
  inFlight.push(res)
  if (inFlight.length > 50) inFlight.shift().emit('close')
}
for (let i = 0; i < 5000; i++) request(false)
gc(); gc()
const before = oldUsed()
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 200; i++) request(true)
  for (let i = 0; i < 60; i++) request(false)
  gc({ type: 'minor' })
}
for (const res of inFlight.splice(0)) res.emit('close')
gc({ type: 'minor' }); gc({ type: 'minor' })
process.stdout.write(JSON.stringify({ grownMB: (oldUsed() - before) / 2 ** 20, total: tracker.total }) + '\\n')
`

/** Old-generation growth (MB) and the tracker's final count, from one child run. */
function probe(): { grownMB: number; total: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '--input-type=module', '-e', PROBE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as { grownMB: number; total: number }
}

beforeAll(() => assertDistFresh())

describe('in-flight tracking and young collections', () => {
  it('keeps no finished request alive: the old generation does not take their payloads', () => {
    // 20 rounds × 200 finished requests of ~50 KB each went through; the Set kept 20–30 MB of them.
    for (let run = 0; run < 3; run++) {
      const { grownMB, total } = probe()
      expect(total).toBe(0)
      expect(grownMB).toBeLessThan(5)
    }
  })
})
