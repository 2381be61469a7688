/**
 * The budget of buffered bodies gives back every byte however a request ends: answered,
 * refused (413, 503), the caller gone mid-body or right after `100 Continue`, the upstream
 * refusing the connection, or the buffered-body timeout. A leak would slowly lock every
 * caller out, so a seeded property runs mixes of such requests at once through a real
 * gateway and checks that the count is back to 0 after each mix.
 */
import { createServer } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { eventually } from '../support/eventually.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { chunk, finalAnswer, jsonBody, KiB, openPost, type Held } from './buffered-bodies-support.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

/** A port nothing listens on: the `refused` endpoint's upstream. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: echo })
  const tls = clientTls(pki)
  const field = '    fields: [{ type: payload, key: account, value: "acct-1" }]\n'
  const yaml = `listen:
  timeouts: { bufferedBody: 2s }
limits: { maxBufferedBody: 64KiB, maxBufferedTotal: 128KiB }
endpoints:
${endpointYaml('fields', upstream.port, tls, field)}${endpointYaml('refused', await closedPort(), tls, field)}`
  gw = await startTestGateway(pki.dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

type Ending = 'complete' | 'abort_mid_body' | 'abort_after_continue' | 'too_large' | 'upstream_refused' | 'timeout'
interface Call {
  ending: Ending
  /** Declared body size in KiB; undefined: chunked. */
  kib: number | undefined
}

/** What each ending may be answered (503 and 408 when the budget or the clock got there first; aborted: no answer read). */
const ANSWERS: Record<Ending, readonly number[]> = {
  complete: [200, 503, 408],
  abort_mid_body: [],
  abort_after_continue: [],
  too_large: [413, 503, 408],
  upstream_refused: [502, 503, 408],
  timeout: [408, 503],
}

const path = (c: Call): string => (c.ending === 'upstream_refused' ? '/proxy/refused/x' : '/proxy/fields/x')
/** The declared length; undefined: chunked (a body over the limit is always chunked, so it is read until it passes). */
const declared = (c: Call): number | undefined => (c.ending === 'too_large' || c.kib === undefined ? undefined : c.kib * KiB)

/** Brings a held request to its ending; resolves with the status read, or undefined when the caller left. */
async function finish(call: Call, h: Held): Promise<number | undefined> {
  const size = (call.kib ?? 24) * KiB
  const body = call.ending === 'too_large' ? 'z'.repeat(80 * KiB) : jsonBody(size)
  const send = (text: string, last: boolean): void => void h.c.socket.write(declared(call) === undefined ? chunk(text) + (last ? '0\r\n\r\n' : '') : text)
  switch (call.ending) {
    case 'abort_after_continue':
      h.c.socket.destroy()
      return undefined
    case 'abort_mid_body':
      send(body.slice(0, size / 2), false)
      await new Promise((r) => setTimeout(r, 50))
      h.c.socket.destroy()
      return undefined
    case 'timeout':
      send(body.slice(0, size / 2), false)
      break
    default:
      send(body, true)
  }
  return (await finalAnswer(h.c)).status
}

const calls = fc.array(
  fc.record({
    ending: fc.constantFrom<Ending>('complete', 'abort_mid_body', 'abort_after_continue', 'too_large', 'upstream_refused', 'timeout'),
    kib: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
  }),
  { minLength: 1, maxLength: 6 },
)

describe('the budget of buffered bodies', () => {
  it('is back to 0 after any mix of requests, however each ended', async () => {
    await fc.assert(
      fc.asyncProperty(calls, async (mix) => {
        // Opened one after another: which ones the budget refuses is then fixed by the sizes.
        const opened: { call: Call; h: Held }[] = []
        for (const call of mix) opened.push({ call, h: await openPost(gw.port, path(call), declared(call)) })
        expect(opened[0]?.h.first).toBe(100)
        const statuses = await Promise.all(opened.map(async ({ call, h }) => (h.first === 503 ? (await finalAnswer(h.c)).status : finish(call, h))))
        statuses.forEach((s, i) => {
          const call = mix[i] as Call
          // Refused at its head (the budget full of the others): 503 whatever its ending would have been.
          const allowed = opened[i]?.h.first === 503 ? [503] : ANSWERS[call.ending]
          if (s !== undefined) expect(allowed, `${call.ending} answered ${s}`).toContain(s)
        })
        await eventually(() => gw.runtime.bufferedBodies.held === 0, 20_000, `the budget back to 0 after ${JSON.stringify(mix)} (held ${gw.runtime.bufferedBodies.held})`)
      }),
      { seed: 20_261_204, numRuns: 12 },
    )
  }, 240_000)
})
