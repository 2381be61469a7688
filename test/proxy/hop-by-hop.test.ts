/**
 * The request's hop-by-hop headers are removed in two places now (the listener's copy drops
 * the fixed names, the strip step the rest, reading Connection from the inbound headers).
 * Together they must remove exactly what one filter over the inbound headers removes, for any
 * header set: Connection and what it lists, Proxy-*, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade, Host, HTTP2-Settings, Expect; but a request's Connection never
 * removes the request id the gateway set, nor the body's Content-Type or Content-Length.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { outboundCopy, stripRequestHopByHop, withoutHopByHop } from '../../src/proxy/steps/hop-by-hop.js'

const FIXED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect'])

/** RFC 9110 §7.6.1 written out plainly: the reference both removals are held to. */
function reference(h: Record<string, string | string[]>, protectedNames: readonly string[] = []): Record<string, string | string[]> {
  const c = h.connection
  const listed = c === undefined ? [] : (Array.isArray(c) ? c.join(',') : c).split(',').map((s) => s.trim().toLowerCase()).filter((n) => !protectedNames.includes(n))
  return Object.fromEntries(Object.entries(h).filter(([k]) => !FIXED.has(k) && !k.startsWith('proxy-') && !listed.includes(k)))
}

/** What a request's Connection header may not name: the gateway's id, the body's type and length. */
const NEVER_NAMED = ['x-request-id', 'content-type', 'content-length']

const NAMES = ['content-type', 'content-length', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-x', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect', 'x-a', 'x-b', 'authorization', 'content-type', 'x-request-id', 'alt-svc']

describe('hop-by-hop removal in two steps', () => {
  it('equals one filter over the inbound headers, and leaves the inbound headers untouched (10,000 runs)', () => {
    const name = fc.oneof(fc.constantFrom(...NAMES), fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/))
    const listed = fc.array(fc.oneof(fc.constantFrom(...NAMES, 'Keep-Alive', 'close', ' X-A ', 'X-B'), name), { maxLength: 4 }).map((xs) => xs.join(', '))
    const value = fc.oneof(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 2 }))
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 10 }), fc.option(fc.oneof(listed, fc.array(listed, { minLength: 1, maxLength: 2 }))), (base, connection) => {
        const inbound: Record<string, string | string[]> = { ...base }
        if (connection !== null) inbound.connection = connection
        const before = JSON.stringify(inbound)
        // The listener sets its request id on the copy; a Connection header never removes it.
        const ctx = { inbound: { headers: inbound }, outbound: { headers: { ...outboundCopy(inbound), 'x-request-id': 'gateway-id' } } } as unknown as Admitted
        void stripRequestHopByHop.run(ctx)
        expect(ctx.outbound.headers).toEqual({ ...reference(inbound, NEVER_NAMED), 'x-request-id': 'gateway-id' })
        expect(withoutHopByHop(inbound)).toEqual(reference(inbound))
        // A response's head loses the backend's Alt-Svc too (a way around the gateway), and nothing else.
        expect(withoutHopByHop(inbound, true)).toEqual(Object.fromEntries(Object.entries(reference(inbound)).filter(([k]) => k !== 'alt-svc')))
        expect(JSON.stringify(inbound)).toBe(before)
      }),
      { seed: 0x40b, numRuns: 10_000 },
    )
  })
})
