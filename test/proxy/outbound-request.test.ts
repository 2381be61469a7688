/**
 * The outbound request's URL, parsed only when a step reads it: what is sent without parsing
 * (untouchedPathAndQuery) and what the signer reads (urlToSign) must be exactly what the parsed
 * URL would have given, for any path and query the upstream target lets through.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import type { Body } from '../../src/proxy/pipeline.js'
import { destinationPathAndQuery, keptByUrlParser, OutboundRequest, outboundUrlToSign } from '../../src/proxy/outbound-request.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { forwardUpstream } from '../../src/proxy/steps/forward.js'
import type { RequestTrace } from '../../src/tracing/index.js'

const endpoint = (url: string, pathPrefix?: string): Endpoint => ({ name: 'ep', url, config: { ...(pathPrefix ? { pathPrefix } : {}) }, destination: compileDestination(url, pathPrefix) }) as unknown as Endpoint
const ROUTE = endpoint('https://api.partner.test:8443/t/{tenant}/v1')
const FORWARD = endpoint('https://[::1]', '/base')
const NO_BODY = { present: false } as unknown as Body

// Every printable ASCII character and a few beyond: each one the URL parser may encode, resolve or drop.
const unit = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('/', '/', '.', '%2e', '%2E', '%2e%2e', '%2F', '%5c', '%zz', '%', '\\', '?', '#', '\t', '\n', '\r', '\u0000', '\u007f', '\u0085', '\u00a0', '\ufeff', '\ud800', 'é', '\u{1F600}', 'a', 'b'),
)
const text = fc.array(unit, { maxLength: 16 }).map((u) => u.join(''))

function parsedBy(origin: string, path: string, query: string): { pathname: string; search: string } | undefined {
  try {
    const u = new URL(origin + path + query)
    return { pathname: u.pathname, search: u.search }
  } catch {
    return undefined
  }
}

describe('keptByUrlParser', () => {
  it('true only where the WHATWG parser gives the path and query back unchanged (20,000 cases)', () => {
    fc.assert(
      fc.property(text, text, fc.boolean(), (rest, q, withQuery) => {
        const path = `/${rest}`
        const query = withQuery ? `?${q}` : ''
        if (!keptByUrlParser(path, query)) return
        expect(parsedBy('https://api.partner.test:8443', path, query)).toEqual({ pathname: path, search: query })
      }),
      { seed: 2912, numRuns: 20_000 },
    )
  })

  // Its rules are about single characters and adjacent pairs, so every short string over every
  // ASCII code unit (and a few beyond) tests each rule at each position; origins of every shape.
  it('true only where the parser gives them back unchanged: every path and query of up to 3 such characters', () => {
    const chars = [...Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c)), 'é', '\u0085', '\u00a0', '\u2028', '\ufeff', '\uff0e', '\ud800', '\u{1F600}']
    const triples = ['/', '.', '%', '2', 'e', 'E', '\\', '?', '#', '^', "'", ' ', '\t', 'a']
    const origins = ['https://api.partner.test:8443', 'https://[::1]', 'http://127.0.0.1:80', 'https://xn--bcher-kva.example']
    const wrong: string[] = []
    const judge = (origin: string, path: string, query: string): void => {
      if (!keptByUrlParser(path, query)) return
      const parsed = parsedBy(origin, path, query)
      if (parsed?.pathname !== path || parsed.search !== query) wrong.push(JSON.stringify([origin, path, query]))
    }
    for (const origin of origins) {
      for (const a of chars) {
        judge(origin, `/${a}`, '?')
        for (const b of chars) {
          judge(origin, `/${a}${b}`, '')
          judge(origin, `/${a}/${b}`, '')
          judge(origin, '/x', `?${a}${b}`)
          judge(origin, `/${a}`, `?${b}`)
        }
      }
      for (const a of triples) for (const b of triples) for (const c of triples) judge(origin, `/${a}${b}${c}`, `?${a}${b}${c}`)
    }
    expect(wrong.slice(0, 5)).toEqual([])
  })

  it('true for the plain paths and queries most requests carry', () => {
    expect(keptByUrlParser('/t/acme/v1/accounts/42', '?page=2&sort=name,-date')).toBe(true)
    expect(keptByUrlParser('/base/a;b=c/@x:y', '')).toBe(true)
    expect(keptByUrlParser('/a', '?')).toBe(false) // its search is ''
    expect(keptByUrlParser('/a b', '')).toBe(false)
    expect(keptByUrlParser('/a', "?q='x'")).toBe(false)
  })
})

describe('OutboundRequest', () => {
  it('sends, checks and signs what the parsed URL would give, read or not (5,000 requests)', () => {
    fc.assert(
      fc.property(text, text, fc.boolean(), fc.boolean(), fc.boolean(), (rest, q, withQuery, route, readFirst) => {
        const query = withQuery ? `?${q}` : ''
        let target
        try {
          target = route ? buildUpstreamTarget(ROUTE, 'acme', `/${rest}`, query, 'append') : buildUpstreamTarget(FORWARD, undefined, `/base/${rest}`, query, 'as_is')
        } catch (err) {
          // A refused path or query is the caller's error, never an internal one.
          if (err instanceof GatewayError) return void expect(STATUS[err.reason], err.message).toBe(400)
          throw err
        }
        const url = toOutboundUrl(target)
        const outbound = new OutboundRequest('GET', {}, NO_BODY)
        outbound.routeTo(target)
        if (readFirst) expect(outbound.url.href).toBe(url.href)
        const signed = outboundUrlToSign(outbound)
        expect({ protocol: signed.protocol, host: signed.host, pathname: signed.pathname, search: signed.search, hash: signed.hash, href: signed.href }).toEqual({
          protocol: url.protocol, host: url.host, pathname: url.pathname, search: url.search, hash: url.hash, href: url.href,
        })
        expect(destinationPathAndQuery(target, outbound)).toBe(url.pathname + url.search)
        // Not parsed unless something read it: plain requests never build the URL object.
        expect(outbound.untouchedPathAndQuery() === undefined).toBe(readFirst || !keptByUrlParser(target.path, target.query))
      }),
      { seed: 2913, numRuns: 5_000 },
    )
  })

  it('the scheme and host the signer reads, split once per destination, are the parsed URL\'s for every kind of origin', () => {
    const origins = ['https://API.Partner.test:443/v1', 'https://api.partner.test:8443', 'http://127.0.0.1:80/x', 'http://127.0.0.1:8080', 'https://[::1]:8443/a', 'https://[::ffff:127.0.0.1]', 'https://bücher.example:444/b', 'https://xn--bcher-kva.example', 'https://{tenant}.partner.test:9443/t/{tenant}']
    for (const configured of origins) {
      const parts = compileDestination(configured, undefined).at('acme').originParts
      const url = new URL(configured.replaceAll('{tenant}', 'acme'))
      expect(parts, configured).toEqual({ protocol: url.protocol, host: url.host })
    }
  })

  it('a step\'s edit is what is sent', () => {
    const target = buildUpstreamTarget(ROUTE, 'acme', '/accounts', '?a=1', 'append')
    const outbound = new OutboundRequest('GET', {}, NO_BODY)
    outbound.routeTo(target)
    expect(destinationPathAndQuery(target, outbound)).toBe('/t/acme/v1/accounts?a=1')
    outbound.url.searchParams.append('key', 'v')
    expect(destinationPathAndQuery(target, outbound)).toBe('/t/acme/v1/accounts?a=1&key=v')
    outbound.url.pathname = '/elsewhere'
    expect(() => destinationPathAndQuery(target, outbound)).toThrow(GatewayError)
  })

  it('with tracing on, the forward step sends an untouched request without parsing its URL; the span gets the origin\'s server', () => {
    const target = buildUpstreamTarget(FORWARD, undefined, '/base/accounts', '?a=1', 'as_is')
    const outbound = new OutboundRequest('GET', {}, NO_BODY)
    outbound.routeTo(target)
    const spans: unknown[] = []
    const sent: { origin?: unknown; path?: string }[] = []
    const trace = { upstream: (_headers: unknown, t: unknown) => void spans.push(t) } as unknown as RequestTrace
    const ctx = {
      outbound, target, endpoint: { name: 'ep', config: { timeouts: { responseMs: 0 } } }, facts: { trace },
      // What the caller sent: the forward step judges the outbound URL against its credentials (none here).
      inbound: { headers: {}, rawHeaders: [] },
      upstream: { dispatch: (request: { origin?: unknown; path?: string }) => void sent.push(request) }, presence: { onGone: () => {} },
    } as unknown as Admitted
    void forwardUpstream(ctx)
    expect(sent).toMatchObject([{ origin: 'https://[::1]', path: '/base/accounts?a=1' }])
    expect(spans).toEqual([{ endpoint: 'ep', server: { address: '::1', port: 443 }, method: 'GET' }])
    expect(outbound.untouchedPathAndQuery()).toBe('/base/accounts?a=1')
  })
})

describe('an unrouted outbound URL', () => {
  it('is each request’s own: an edit before route reaches no other request', () => {
    const first = new OutboundRequest('GET', {}, NO_BODY)
    first.url.pathname = '/edited'
    first.url.hostname = 'elsewhere.test'
    const second = new OutboundRequest('GET', {}, NO_BODY)
    expect(second.url.href).toBe('https://unrouted.invalid/')
    expect(first.url.href).toBe('https://elsewhere.test/edited')
  })
})
