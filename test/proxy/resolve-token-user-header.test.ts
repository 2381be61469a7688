/**
 * X-Gateway-User names the user a call is for: the gateway reads it, and it reaches the backend
 * under no spelling a CGI-style backend (PHP, WSGI, Rack, lighttpd) keys as HTTP_X_GATEWAY_USER
 * (`x_gateway_user`, `X-Gateway_User`, `x.gateway.user`). Every other header travels as sent,
 * and with nothing to remove the step copies nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { createResolveToken, USER_HEADER } from '../../src/proxy/steps/resolve-token.js'
import { cgiVariable } from './parser-models.js'

const step = createResolveToken()

/** Runs resolve_token (no OAuth profile) with `inbound` as the caller's headers and `outbound` as the copy going upstream. */
function run(inbound: Record<string, string>, outbound: OutboundHeaders): Admitted {
  const ctx = { caller: {}, inbound: { headers: inbound, rawHeaders: Object.entries(inbound).flat() }, outbound: { headers: outbound }, endpoint: { name: 'partner' }, auth: {} } as unknown as Admitted
  void step.run(ctx)
  return ctx
}

const USER_VARIABLE = 'HTTP_X_GATEWAY_USER'

describe('X-Gateway-User in every spelling', () => {
  it('the examples: x_gateway_user, X-Gateway_User and x.gateway.user go with x-gateway-user; the user is the exact header\'s; the caller\'s object is not edited', () => {
    const headers: OutboundHeaders = { 'x-gateway-user': 'alice', x_gateway_user: 'admin', 'X-Gateway_User': 'admin', 'x.gateway.user': 'admin', 'x-gateway-users': 'kept', accept: '*/*' }
    const ctx = run({ 'x-gateway-user': 'alice' }, headers)
    expect(ctx.outbound.headers).toEqual({ 'x-gateway-users': 'kept', accept: '*/*' })
    expect(ctx.auth.user).toBe('alice')
    expect(Object.keys(headers)).toHaveLength(6)
  })

  it('with nothing to remove, the headers object is the same one (no copy, no delete)', () => {
    const headers: OutboundHeaders = { accept: '*/*', 'user-agent': 'bot', 'x-gateway-users': 'a', 'x-gateway': 'b', 'x-request-id': 'id' }
    expect(run({}, headers).outbound.headers).toBe(headers)
  })

  const SEPARATORS = ['-', '_', '.', '~', '!', '#', '$', '%', '&', "'", '*', '+', '^', '`', '|']
  const spelling = fc.tuple(...[...USER_HEADER].map((c) => (c === '-' ? fc.constantFrom(...SEPARATORS) : fc.constantFrom(c, c.toUpperCase())))).map((cs) => cs.join(''))
  // Near misses a backend keys differently: they must travel.
  const UNRELATED = ['accept', 'x-gateway-users', 'x-gateway', 'gateway-user', 'x-gateway-user-id', 'xx-gateway-user', 'x-gatewayuser', 'x-gateway-usr', 'y-gateway-user', 'content-type', 'x-request-id']
  const headerName = fc.oneof({ weight: 2, arbitrary: spelling }, { weight: 2, arbitrary: fc.constantFrom(...UNRELATED) }, { weight: 1, arbitrary: fc.constant(USER_HEADER) })

  it('for any caller headers: a CGI backend reads no HTTP_X_GATEWAY_USER, every other header arrives as sent, and nothing is copied without a reason (5,000 cases)', () => {
    let shadowed = 0
    fc.assert(
      fc.property(fc.uniqueArray(headerName, { maxLength: 10 }), (names) => {
        const sent: OutboundHeaders = Object.fromEntries(names.map((n, i) => [n, `caller-${i}`]))
        const outbound = { ...sent }
        const out = run({}, outbound).outbound.headers
        const removable = names.filter((n) => cgiVariable(n) === USER_VARIABLE)
        if (removable.some((n) => n !== USER_HEADER)) shadowed++
        expect(Object.keys(out).map(cgiVariable)).not.toContain(USER_VARIABLE)
        for (const n of names) if (cgiVariable(n) !== USER_VARIABLE) expect(out[n], n).toBe(sent[n])
        expect(Object.keys(out)).toHaveLength(names.length - removable.length)
        if (removable.length === 0) expect(out).toBe(outbound)
        expect(outbound).toEqual(sent)
      }),
      { seed: 20261205, numRuns: 5000 },
    )
    expect(shadowed).toBeGreaterThan(1500)
  })
})
