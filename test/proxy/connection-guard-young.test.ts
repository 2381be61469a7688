/**
 * The connection guard's open connections and CONNECT tunnels (src/proxy/connection-guard.ts)
 * keep no closed connection alive through young collections: a long-lived Set or Map with one
 * add and one delete per item promotes what went through it (src/runtime/running-list.ts,
 * docs/performance.md). Connections (EventEmitters standing in for sockets) open on a guarded
 * server, or become tunnels, and close 50 later (test/support/young-probe.ts); closed ones carry
 * ~50 KB. With the Set and Map 20–150 MB of them reached the old generation.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { promotedByFinished } from '../support/young-probe.js'

/** A guarded server; `left()` is what a drain still finds to close once every item closed (none). */
const GUARD = `
import { EventEmitter as Emitter } from 'node:events'
import { guardConnections } from './dist/src/proxy/connection-guard.js'
const server = new Emitter()
const guard = guardConnections(server, { listener: 'proxy', configKey: 'listen.timeouts', timeouts: { headersMs: 10000, keepAliveMs: 5000, bodyIdleMs: 0, bufferedBodyMs: 0 }, surface: 'proxy', events: {}, methods: ['GET'] })
let destroyed = 0
const leave = (socket) => socket.emit('close')
const left = () => (guard.closeIdle(), destroyed)
`

beforeAll(() => assertDistFresh())

describe('connection guard and young collections', () => {
  it('keeps no closed connection alive: the old generation does not take their payloads', () => {
    for (let run = 0; run < 3; run++) {
      const { grownMB, left } = promotedByFinished(`${GUARD}const enter = (socket) => ((socket.destroy = () => destroyed++), server.emit('connection', socket))\n`)
      expect(left).toBe(0)
      expect(grownMB).toBeLessThan(5)
    }
  })

  it('keeps no closed CONNECT tunnel alive: the old generation does not take their payloads', () => {
    for (let run = 0; run < 3; run++) {
      const { grownMB, left } = promotedByFinished(`${GUARD}const enter = (socket) => ((socket.destroy = () => destroyed++), guard.track(socket, () => true))\n`)
      expect(left).toBe(0)
      expect(grownMB).toBeLessThan(5)
    }
  })
})
