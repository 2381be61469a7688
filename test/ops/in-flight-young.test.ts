/**
 * In-flight tracking (src/ops/in-flight.ts) keeps no finished request alive through young
 * collections: a production gateway's finished requests were promoted whole while a Set held
 * its running responses (src/runtime/running-list.ts, docs/performance.md). Responses go through
 * the tracker as the listener pins them and end with 'close' (test/support/young-probe.ts):
 * about 0.7 MB of finished payloads reach the old generation with the list, 20–150 MB with the Set.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { promotedByFinished } from '../support/young-probe.js'

const SETUP = `
import { trackInFlight } from './dist/src/ops/in-flight.js'
import { pinSnapshot } from './dist/src/proxy/pin-snapshot.js'
const server = {}
const ref = { current: {} }
const tracker = trackInFlight(server)
const enter = (res) => pinSnapshot(server, ref, res)
const leave = (res) => res.emit('close')
const left = () => tracker.total
`

beforeAll(() => assertDistFresh())

describe('in-flight tracking and young collections', () => {
  it('keeps no finished request alive: the old generation does not take their payloads', () => {
    // 20 rounds × 200 finished requests of ~50 KB each went through; the Set kept 20–150 MB of them.
    for (let run = 0; run < 3; run++) {
      const { grownMB, left } = promotedByFinished(SETUP)
      expect(left).toBe(0)
      expect(grownMB).toBeLessThan(5)
    }
  })
})
