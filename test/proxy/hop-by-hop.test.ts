/**
 * The request's hop-by-hop headers are removed in two places now (the listener's copy drops
 * the fixed names, the strip step the rest, reading Connection from the inbound headers).
 * Together they must remove exactly what one filter over the inbound headers removes, for any
 * header set: Connection and what it lists, Proxy-*, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade, Host, HTTP2-Settings, Expect; but a request's Connection never
 * removes the request id the gateway set, nor (either way) the body's Content-Type, Content-Length,
 * Content-Encoding or Content-Range. A name Connection lists strips every header a CGI-style reader
 * keys the same (`Connection: x_secret` strips `X-Secret`, and the reverse), on requests as on
 * answers; the list is read by RFC 9110's #rule (empty elements, spaces and tabs around elements,
 * any case; a quoted string or any other non-token element names nothing, a comma splits even inside quotes), checked over generated
 * lists whose named set is known by construction.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { connectionOptions } from '../../src/proxy/connection-options.js'
import { outboundCopy, stripRequestHopByHop, stripResponseHopByHop, withoutHopByHop } from '../../src/proxy/steps/hop-by-hop.js'

const FIXED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect'])

const cgiKey = (n: string): string => n.toLowerCase().replace(/[^a-z0-9]/g, '_')

/** What no Connection header may name: the body's representation; and on requests the gateway's id. */
const REPRESENTATION = ['content-type', 'content-length', 'content-encoding', 'content-range']
const NEVER_NAMED = ['x-request-id', ...REPRESENTATION]
/** Names an answer carries only in their own spelling: the fixed ones, Alt-Svc, the framing and what the gateway sets on answers. */
const ANSWER_OWN = [...FIXED, 'alt-svc', ...REPRESENTATION, 'x-request-id', 'via', 'set-cookie', 'location', 'content-location', 'link', 'refresh']
const FIXED_KEYS = new Set([...FIXED].map(cgiKey))
const ANSWER_KEYS = new Set(ANSWER_OWN.map(cgiKey))
/** Proxy-* in any spelling a CGI-style reader keys as HTTP_PROXY_… */
const isProxyKeyed = (k: string): boolean => cgiKey(k).length > 6 && cgiKey(k).startsWith('proxy_')

/**
 * RFC 9110 §7.6.1 written out plainly (these lists hold no quotes): the reference both removals are held to.
 * Beyond it, what a CGI-style reader keys as a stripped name goes too: of a request, every spelling of the
 * fixed names and of Proxy-*, and `Proxy` (httpoxy); of an answer, every spelling of ANSWER_OWN's and of Proxy-*.
 */
function reference(h: Record<string, string | string[]>, protectedNames: readonly string[], side: 'request' | 'answer'): Record<string, string | string[]> {
  const c = h.connection
  const listed = c === undefined ? [] : (Array.isArray(c) ? c.join(',') : c).split(',').map((s) => cgiKey(s.trim())).filter((n) => !protectedNames.map(cgiKey).includes(n))
  const shadow = (k: string): boolean => (side === 'request' ? k === 'proxy' || FIXED_KEYS.has(cgiKey(k)) : k === 'alt-svc' || (!ANSWER_OWN.includes(k) && ANSWER_KEYS.has(cgiKey(k))))
  return Object.fromEntries(Object.entries(h).filter(([k]) => !FIXED.has(k) && !isProxyKeyed(k) && !shadow(k) && !listed.includes(cgiKey(k))))
}

const NAMES = ['content-type', 'content-length', 'content-encoding', 'content-range', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-x', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect', 'x-a', 'x-b', 'authorization', 'content-type', 'x-request-id', 'alt-svc']

describe('hop-by-hop removal in two steps', () => {
  it('equals one filter over the inbound headers, every CGI spelling included, and leaves the inbound headers untouched (10,000 runs)', () => {
    // A name with each "-" written "-", "_" or "." (Node hands names over in lower case): `proxy_authorization`, `keep.alive`, `x_request_id`.
    const respelled = fc.tuple(fc.constantFrom(...NAMES, 'proxy', 'via', 'set-cookie', 'content-location'), fc.array(fc.constantFrom('-', '_', '.'), { minLength: 2, maxLength: 2 }))
      .map(([n, seps]) => n.split('-').map((part, i) => (i === 0 ? part : `${seps[(i - 1) % 2] as string}${part}`)).join(''))
    const name = fc.oneof(fc.constantFrom(...NAMES), respelled, fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/))
    const listed = fc.array(fc.oneof(fc.constantFrom(...NAMES, 'Keep-Alive', 'close', ' X-A ', 'X-B', 'x_a', 'X.B', 'Content_Type', 'x_request_id'), name), { maxLength: 4 }).map((xs) => xs.join(', '))
    const value = fc.oneof(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 2 }))
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 10 }), fc.option(fc.oneof(listed, fc.array(listed, { minLength: 1, maxLength: 2 }))), (base, connection) => {
        const inbound: Record<string, string | string[]> = { ...base }
        if (connection !== null) inbound.connection = connection
        const before = JSON.stringify(inbound)
        // The listener sets its request id on the copy; a Connection header never removes it.
        const ctx = { inbound: { headers: inbound }, outbound: { headers: { ...outboundCopy(inbound), 'x-request-id': 'gateway-id' } } } as unknown as Admitted
        void stripRequestHopByHop.run(ctx)
        expect(ctx.outbound.headers).toEqual({ ...reference(inbound, NEVER_NAMED, 'request'), 'x-request-id': 'gateway-id' })
        expect(withoutHopByHop(inbound)).toEqual(reference(inbound, REPRESENTATION, 'request'))
        // A response's head loses the backend's Alt-Svc too (a way around the gateway), and the other spellings of what it strips or sets.
        expect(withoutHopByHop(inbound, true)).toEqual(reference(inbound, REPRESENTATION, 'answer'))
        expect(JSON.stringify(inbound)).toBe(before)
      }),
      { seed: 0x40b, numRuns: 10_000 },
    )
  })

  it('reads a Connection list by RFC 9110\'s #rule and strips by the CGI key, on requests and answers alike (seeded)', () => {
    const tchar = fc.constantFrom(...'!#$%&\'*+.^_`|~')
    // A header the list may name, in any case, with any token character for its "-".
    const spelled = fc.record({ name: fc.constantFrom('x-secret', 'x-other-one', ...NEVER_NAMED), sep: tchar, upper: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }) })
      .map(({ name, sep, upper }) => [...name].map((c, i) => (c === '-' ? sep : upper[i] ? c.toUpperCase() : c)).join(''))
    const ows = fc.stringMatching(/^[ \t]{0,3}$/)
    // Each element with what it names (null: nothing): a token; an empty element; a quoted string or two words, which hide a name.
    const element = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(ows, spelled, ows).map(([a, n, b]) => ({ text: `${a}${n}${b}`, names: n as string | null })) },
      fc.tuple(ows).map(([a]) => ({ text: a, names: null })),
      fc.tuple(ows, spelled, fc.constantFrom('', '\\"', ' ')).map(([a, n, inner]) => ({ text: `${a}"${n}${inner}x-b"`, names: null })),
      fc.tuple(ows, spelled).map(([a, n]) => ({ text: `${a}"${n}"`, names: null })),
      // Not OWS: a no-break space (obs-text, which Node hands over as U+00A0) or a vertical tab keeps the element from being a token.
      fc.tuple(fc.constantFrom('\u00a0', '\v'), spelled).map(([w, n]) => ({ text: `${w}${n}`, names: null })),
      fc.tuple(spelled).map(([n]) => ({ text: `x-b ${n}`, names: null })),
      // A comma splits inside quotes too (an option is a token: quotes are malformed here), as Go and Envoy split.
      fc.tuple(ows, spelled).map(([a, n]) => ({ text: `${a}"x-b, ${n} ,x-b"`, names: n as string | null })),
      fc.constantFrom({ text: 'close', names: 'close' }, { text: ' Keep-Alive', names: 'keep-alive' }),
    )
    const list = fc.array(element, { minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(list, fc.boolean(), (elements, twoLines) => {
        const texts = elements.map((e) => e.text)
        const value = twoLines && texts.length > 1 ? [texts.slice(0, 1).join(','), texts.slice(1).join(',')] : texts.join(',')
        const named = elements.flatMap((e) => (e.names === null ? [] : [e.names.toLowerCase()]))
        expect(connectionOptions(value)).toEqual(named)
        // Each header once, in the spelling Node hands over (lower case): named by its CGI key or not.
        const headers: Record<string, string | string[]> = { connection: value, 'x-secret': 's', x_secret: 's2', 'x-other-one': 'o', 'x.other.one': 'o2', 'x-b': 'b', 'content-type': 'text/plain', 'content-length': '2', 'content-encoding': 'gzip', 'content-range': 'bytes 0-1/2' }
        const keys = new Set(named.map(cgiKey))
        const expected = (kept: readonly string[]): string[] => Object.keys(headers).filter((k) => k !== 'connection' && (kept.includes(k) || !keys.has(cgiKey(k))))
        const ctx = { inbound: { headers }, outbound: { headers: { ...outboundCopy(headers), 'x-request-id': 'gateway-id' } } } as unknown as Admitted
        void stripRequestHopByHop.run(ctx)
        expect(Object.keys(ctx.outbound.headers)).toEqual([...expected(NEVER_NAMED), 'x-request-id'])
        const res = { status: 200, headers: { ...headers }, body: null } as unknown as Parameters<typeof stripResponseHopByHop.run>[1]
        stripResponseHopByHop.run(ctx, res)
        expect(Object.keys(res.headers)).toEqual(expected(REPRESENTATION))
      }),
      { seed: 0xc0117, numRuns: 5_000 },
    )
  })
})

describe('the representation headers in other spellings', () => {
  // `Content_Encoding: gzip` beside a body the gateway relays as sent is the coding a reader folding
  // `_` and `.` to `-` (CGI, WSGI, nginx with underscores_in_headers) decodes it by; `content.range`
  // makes a whole body a part. Only their own spelling travels, either way, as for the framing.
  const SHADOWS = { Content_Encoding: 'gzip', 'content.encoding': 'br', CONTENT_RANGE: 'bytes 0-1/9', 'content.range': 'bytes 0-1/9' }
  const OWN = { 'content-encoding': 'identity', 'content-range': 'bytes 0-8/9', 'content-type': 'text/plain' }

  it('an answer loses them', () => {
    expect(withoutHopByHop({ ...SHADOWS, ...OWN }, true)).toEqual(OWN)
  })

  it('a request loses them (the forwarding step, address headers on or off)', async () => {
    const { addForwardingHeaders } = await import('../../src/proxy/steps/forwarding-headers.js')
    for (const xForwardedFor of [false, true]) {
      const ctx = { gateway: { config: { forwarding: { via: false, xForwardedFor } } }, inbound: { headers: {}, remoteAddress: '10.0.0.7' }, outbound: { headers: { ...SHADOWS, ...OWN } } } as unknown as Admitted
      void addForwardingHeaders.run(ctx)
      const kept = Object.keys(ctx.outbound.headers).filter((k) => k.toLowerCase().startsWith('content'))
      expect(kept.sort()).toEqual(Object.keys(OWN).sort())
    }
  })
})
