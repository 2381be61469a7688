/**
 * A bodiless request's response gets one 'close' listener from the listener and its guard together:
 * the guard's bookkeeping (the request answered: request-progress.ts) runs at the end of the
 * listener's one, not in a second listener (a closure, the emitter's listener array and its copy
 * on every response; docs/performance.md, session 49). What the guard reads of it still holds: an
 * answered connection is idle (a drain closes it), an unanswered one is in progress (it does not).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPipeline } from '../../src/proxy/default-pipeline.js'
import type { Step } from '../../src/proxy/pipeline.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { eventually } from '../support/eventually.js'
import { startInProcessListener, type InProcessListener } from '../support/in-process-listener.js'

let pki: TestPki
let listener: InProcessListener
/** Per request seen, the 'close' listeners its response had once the listener and its guard had it. */
const closeListeners = new Map<string, number>()

/** Never finishes: the request stays unanswered. */
const stuck: Step = { name: 'stuck', run: () => new Promise(() => {}) }

beforeAll(async () => {
  pki = await createTestPki()
  listener = await startInProcessListener(pki, `endpoints:\n${endpointYaml('held', 9, clientTls(pki))}`, Object.assign(createPipeline({}), { prepare: [stuck] }), (server) =>
    // Added after the listener's handler and its guard: both ran for the request by now.
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void closeListeners.set(req.url ?? '', res.listenerCount('close'))),
  )
})

afterAll(async () => {
  await listener?.close()
  pki?.cleanup()
})

describe("a bodiless request's response", () => {
  it("has one 'close' listener; answered, its connection is idle and a drain's closeIdle closes it", async () => {
    const c = await rawClient(listener.port)
    c.socket.write('GET /nothing/here HTTP/1.1\r\nHost: a\r\n\r\n')
    await eventually(() => c.received().toString().includes('\r\n\r\n{"errors"'), 20_000, 'the 404')
    expect(closeListeners.get('/nothing/here')).toBe(1)
    await eventually(() => (listener.server.closeIdleConnections(), c.socket.destroyed), 20_000, 'the idle connection closed')
  })

  it("has one 'close' listener while proxied; unanswered, its connection is in progress and closeIdle keeps it", async () => {
    const c = await rawClient(listener.port)
    c.socket.write('GET /proxy/held/x HTTP/1.1\r\nHost: a\r\n\r\n')
    await eventually(() => closeListeners.has('/proxy/held/x'), 20_000, 'the request')
    expect(closeListeners.get('/proxy/held/x')).toBe(1)
    listener.server.closeIdleConnections()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(c.socket.destroyed).toBe(false)
    c.socket.destroy()
  })
})
