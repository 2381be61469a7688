/**
 * Which trace headers reach the upstream, as docs/tracing.md states it (a seeded property over
 * callers' traceparent, tracestate, baggage and b3 headers, through real gateways to a real echo
 * upstream). Tracing off: all four go upstream as sent. Tracing on: traceparent is the gateway's
 * (the caller's trace continued when its traceparent is valid, a new trace otherwise), tracestate
 * is the caller's valid list members with a valid traceparent and absent otherwise (never empty;
 * absent too when its valid members name a key twice),
 * and baggage and b3, which the gateway does not act on, go upstream as sent.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`))
const validParent = fc.record({ traceId: hex(32), parentId: hex(16), flags: fc.constantFrom('00', '01') })
  .filter((p) => !/^0+$/.test(p.traceId) && !/^0+$/.test(p.parentId))
// Printable, no comma or equals sign, not ending in a space: a W3C tracestate value.
const stateValue = fc.stringMatching(/^[ -+\--<>-~]{0,6}[!-+\--<>-~]$/)
const stateKey = fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,6}(@[a-z][a-z0-9]{0,4})?$/)
// Members W3C Trace Context does not accept: no '=', an upper-case key, an empty value.
const badMember = fc.constantFrom('bogus', 'Upper=1', 'k=', '=v', '1x=y')
const caller = fc.record({
  traceparent: fc.oneof(
    validParent.map((p) => ({ valid: p as { traceId: string; parentId: string; flags: string } | undefined, text: `00-${p.traceId}-${p.parentId}-${p.flags}` as string | undefined })),
    fc.constantFrom(`00-${'0'.repeat(32)}-${'ab'.repeat(8)}-01`, 'x00-zz', `ff-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`).map((text) => ({ valid: undefined, text })),
    fc.constant({ valid: undefined, text: undefined }),
  ),
  tracestate: fc.option(fc.record({
    good: fc.uniqueArray(fc.tuple(stateKey, stateValue), { selector: ([k]) => k, maxLength: 4 }),
    bad: fc.array(badMember, { maxLength: 2 }),
    spaced: fc.boolean(),
    // A valid member naming the first good key again: the list then names a key twice, which W3C does not accept.
    again: fc.option(stateValue, { nil: undefined }),
  }), { nil: undefined }),
  baggage: fc.option(fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/), { nil: undefined }),
  b3: fc.option(fc.tuple(hex(32), hex(16)).map(([t, s]) => `${t}-${s}-1`), { nil: undefined }),
})
type Caller = typeof caller extends fc.Arbitrary<infer T> ? T : never

/** Whether the caller's tracestate names a key twice. */
const twice = (c: Caller): boolean => c.tracestate?.again !== undefined && c.tracestate.good.length > 0

/** The headers the caller sends. */
function headersOf(c: Caller): Record<string, string> {
  const h: Record<string, string> = {}
  if (c.traceparent.text !== undefined) h.traceparent = c.traceparent.text
  if (c.tracestate) h.tracestate = [...c.tracestate.bad, ...c.tracestate.good.map(([k, v]) => `${k}=${v}`), ...(twice(c) ? [`${c.tracestate.good[0]?.[0]}=${c.tracestate.again}`] : [])].join(c.tracestate.spaced ? ' , ' : ',')
  if (c.baggage !== undefined) h.baggage = c.baggage
  if (c.b3 !== undefined) h.b3 = c.b3
  return h
}

let pki: TestPki
let upstream: RunningServer
let off: OpsGateway
let on: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const endpoints = `endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  off = await startOpsGateway(pki.dir, endpoints, { watch: false })
  on = await startOpsGateway(pki.dir, `tracing: { enabled: true, sampler: { ratio: 1 } }\n${endpoints}`, { watch: false })
})
afterAll(async () => {
  await off?.gw.close()
  await on?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

const upstreamHeaders = async (g: OpsGateway, headers: Record<string, string>): Promise<EchoReply['headers']> => {
  const r = await send(g.gw.url, '/proxy/partner/trace-headers', { headers })
  expect(r.status, r.text).toBe(200)
  return r.json<EchoReply>().headers
}
const pick = (h: EchoReply['headers']): Record<string, unknown> => Object.fromEntries(['traceparent', 'tracestate', 'baggage', 'b3'].filter((k) => k in h).map((k) => [k, h[k]]))

describe('trace headers upstream (seeded property)', () => {
  it('tracing off: traceparent, tracestate, baggage and b3 go upstream as sent, and nothing is added', async () => {
    await fc.assert(
      fc.asyncProperty(caller, async (c) => {
        const sent = headersOf(c)
        expect(pick(await upstreamHeaders(off, sent))).toEqual(sent)
      }),
      { seed: 3030, numRuns: 60 },
    )
  })

  it("tracing on: the gateway's traceparent (the caller's trace when valid), the caller's valid tracestate members only with it, baggage and b3 as sent", async () => {
    await fc.assert(
      fc.asyncProperty(caller, async (c) => {
        const sent = headersOf(c)
        const got = await upstreamHeaders(on, sent)
        const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(String(got.traceparent))
        expect(m, String(got.traceparent)).not.toBeNull()
        const valid = c.traceparent.valid
        if (valid) expect([m?.[1], m?.[2] === valid.parentId]).toEqual([valid.traceId, false])
        else expect(m?.[1]).not.toBe(sent.traceparent?.split('-')[1])
        const state = valid && c.tracestate && c.tracestate.good.length > 0 && !twice(c) ? c.tracestate.good.map(([k, v]) => `${k}=${v}`).join(',') : undefined
        const expected = { traceparent: got.traceparent, ...(state !== undefined ? { tracestate: state } : {}), ...(sent.baggage !== undefined ? { baggage: sent.baggage } : {}), ...(sent.b3 !== undefined ? { b3: sent.b3 } : {}) }
        expect(pick(got)).toEqual(expected)
      }),
      { seed: 3031, numRuns: 60 },
    )
  })
})
