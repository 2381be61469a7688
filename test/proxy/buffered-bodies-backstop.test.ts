/**
 * The budget's backstop: a request whose pipeline never finishes (a step stuck after reading
 * the body) still gives its body back when its response closes, here because the caller left.
 * A real listener on a real socket, with a pipeline whose one prepare step hangs for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPipeline } from '../../src/proxy/default-pipeline.js'
import type { Step } from '../../src/proxy/pipeline.js'
import { createBufferedBodies } from '../../src/runtime/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { startInProcessListener, type InProcessListener } from '../support/in-process-listener.js'
import { eventually } from '../support/eventually.js'
import { jsonBody, KiB } from './buffered-bodies-support.js'

let pki: TestPki
let listener: InProcessListener | undefined
const budget = createBufferedBodies()
let bodiesRead = 0

/** Reads the body, then never finishes. */
const stuck: Step = {
  name: 'stuck_after_body',
  run: async (ctx) => {
    await ctx.outbound.body.bytes()
    bodiesRead++
    await new Promise(() => {})
  },
}

beforeAll(async () => {
  pki = await createTestPki()
  const tls = clientTls(pki)
  const pipeline = Object.assign(createPipeline({ bufferedBodies: budget }), { prepare: [stuck] })
  listener = await startInProcessListener(pki, `limits: { maxBufferedBody: 64KiB, maxBufferedTotal: 128KiB }\nendpoints:\n${endpointYaml('fields', 9, tls)}`, pipeline)
})

afterAll(async () => {
  await listener?.close()
  pki?.cleanup()
})

describe('a request stuck after reading its body', () => {
  it('gives the body back when the caller leaves', async () => {
    const c = await rawClient((listener as InProcessListener).port)
    c.socket.write(`POST /proxy/fields/x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${16 * KiB}\r\n\r\n${jsonBody(16 * KiB)}`)
    await eventually(() => bodiesRead === 1, 20_000, 'the body read')
    expect(budget.held).toBe(16 * KiB)
    c.socket.destroy()
    await eventually(() => budget.held === 0, 20_000, `the body given back (held ${budget.held})`)
  })
})
