/**
 * setGatewayHeader skips folding two plain names (lower-case letters, digits, "-"), which never
 * share a CGI key; against the rule as first written (fold every other header of the name's
 * length), over generated header sets: the same headers kept, in the same order, the same value set.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cgiHeaderName, setGatewayHeader } from '../../src/proxy/gateway-headers.js'
import type { Outbound, OutboundHeaders } from '../../src/proxy/pipeline.js'

function reference(headers: OutboundHeaders, name: string, value: string): OutboundHeaders {
  const key = cgiHeaderName(name)
  const kept: OutboundHeaders = {}
  for (const other in headers) if (other === name || other.length !== name.length || cgiHeaderName(other) !== key) kept[other] = headers[other] as string
  kept[name] = value
  return kept
}

// Short names of few characters, so shadows (x-a, X_A, x.a) and plain look-alikes of one length meet often.
const headerName = fc.array(fc.constantFrom('x', 'a', 'X', 'A', '1', '-', '_', '.', ' '), { minLength: 1, maxLength: 4 }).map((c) => c.join(''))
const gatewayName = fc.oneof(headerName.map((n) => n.toLowerCase()), fc.constantFrom('authorization', 'x-partner-key', 'x-a', 'x_a'))

describe('setGatewayHeader', () => {
  it('keeps and removes what folding every same-length header does (5,000 header sets)', () => {
    let removed = 0
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(headerName, fc.constantFrom('x-partner-key', 'X_Partner_Key', 'authorization', 'Authorization', 'user-agent')), { maxLength: 8 }), gatewayName, (names, name) => {
        const headers: OutboundHeaders = Object.fromEntries(names.map((n, i) => [n, `v${i}`]))
        const expected = reference(headers, name, 'gw')
        const outbound = { headers: { ...headers } } as unknown as Outbound
        setGatewayHeader(outbound, name, 'gw')
        expect(Object.entries(outbound.headers)).toEqual(Object.entries(expected))
        if (Object.keys(expected).length < Object.keys({ ...headers, [name]: 'gw' }).length) removed++
      }),
      { seed: 3875, numRuns: 5_000 },
    )
    expect(removed).toBeGreaterThan(200)
  })
})
