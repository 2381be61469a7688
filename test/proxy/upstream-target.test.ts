/**
 * The one constructor of upstream targets, alone: for any string at all as the request path
 * and query, buildUpstreamTarget either refuses with a 400 reason or yields the endpoint's
 * origin and a path under its base path — also as a normalising URL parser reads it, and as a
 * backend that folds Unicode (NFKC: "．．" is "..") reads it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, createConnector, endpointAuthority, MAX_CACHED_TENANTS, type Endpoint } from '../../src/gateway/index.js'
import { createSecureContext } from 'node:tls'
import { assertDestination, buildUpstreamTarget, checkRequestPath, checkRequestPathFully, hasDotSegment, isPlainPath, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { pathSegmentProblem } from '../../src/config/index.js'
import { backendReadings } from './destination-cases.js'

const endpoint = (url: string, pathPrefix?: string): Endpoint => ({ name: 'ep', url, config: { ...(pathPrefix ? { pathPrefix } : {}) }, destination: compileDestination(url, pathPrefix) }) as unknown as Endpoint

const ROUTE = endpoint('https://api.partner.test:8443/t/{tenant}/v1')
const FORWARD = endpoint('https://api.partner.test:8443', '/base')

const tricky = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.constantFrom('/', '//', '\\', '.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '%00', '%c0%ae', ';', '@', ':', '?', '#', 'a', 'base', '127.0.0.1:9999', 'é', '\u0000', ' ', '..#', '%2e%2e?', '.. '), { maxLength: 12 }).map((p) => p.join('')),
)

function outcome(run: () => ReturnType<typeof buildUpstreamTarget>): ReturnType<typeof buildUpstreamTarget> | GatewayError {
  try {
    return run()
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

describe('buildUpstreamTarget', () => {
  it('for any path and query: a 400 refusal, or the endpoint origin and a path under the base (20,000 cases)', () => {
    fc.assert(
      fc.property(tricky, tricky, fc.boolean(), (path, query, route) => {
        const q = query === '' ? '' : `?${query}`
        const r = outcome(() => (route ? buildUpstreamTarget(ROUTE, 'acme', path, q, 'append') : buildUpstreamTarget(FORWARD, undefined, path, q, 'as_is')))
        if (r instanceof GatewayError) {
          expect(STATUS[r.reason]).toBe(400)
          return
        }
        const base = route ? '/t/acme/v1' : '/base'
        expect(r.origin).toBe('https://api.partner.test:8443')
        const url = toOutboundUrl(r)
        expect(url.origin).toBe('https://api.partner.test:8443')
        for (const p of [url.pathname, new URL(decodeURIComponent(url.pathname).replace(/\\/g, '/'), 'http://x').pathname]) {
          expect(p === base || p.startsWith(`${base}/`), `${JSON.stringify(path)} → ${url.pathname}`).toBe(true)
        }
      }),
      { seed: 4242, numRuns: 20_000 },
    )
  })

  it('refuses with 400 a path holding "?", "#" or a space, where a URL parser would end or trim it (else "/..#" resolved out of the base: a 500)', () => {
    for (const path of ['/..#', '/%2e%2e#x', '/..?a', '/%2E%2E ', '/a#b', '/a?b', '/a b']) {
      for (const [ep, p, placement] of [[ROUTE, path, 'append'], [FORWARD, `/base${path}`, 'as_is']] as const) {
        const r = outcome(() => buildUpstreamTarget(ep, ep === ROUTE ? 'acme' : undefined, p, '', placement))
        expect(r instanceof GatewayError ? STATUS[r.reason] : r, JSON.stringify(p)).toBe(400)
      }
    }
  })

  it('the endpoint URL parsed once per tenant gives what parsing it on every request gave (5,000 cases)', () => {
    const label = fc.oneof(
      fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
      fc.constantFrom('0', '1', '255', '4294967295', '0x7f', '077', 'xn--nxasmq6b', 'xn--zz', 'xn--', 'a--b', 'localhost'),
    )
    const url = fc.constantFrom(
      'https://{tenant}.api.partner.test/v1',
      'https://api.{tenant}',
      'https://{tenant}:8443',
      'https://{tenant}/t/{tenant}/v1/',
      'https://api.partner.test:8443/t/{tenant}/v1',
      'https://api.partner.test:443/{tenant}//',
      'https://api.partner.test/a/{{acct}}/b',
      'http://api.partner.test:80',
    )
    // A tenant in the host must stay the host's text (not read as an IPv4 address, not refused by
    // URL): otherwise the tenant is refused with tenant_invalid (review rev-e).
    const hostText = (u: string): string => u.replace(/^https?:\/\//, '').split(/[/?#]/)[0]!.replace(/:\d*$/, '')
    const direct = (u: string, t: string | undefined): { origin: string; path: string } | string => {
      const hostTenant = t !== undefined && hostText(u).includes('{tenant}')
      try {
        const parsed = new URL(t === undefined ? u : u.replaceAll('{tenant}', t))
        if (hostTenant && parsed.hostname !== hostText(u).replaceAll('{tenant}', t).toLowerCase()) return 'tenant_invalid'
        return { origin: parsed.origin, path: parsed.pathname.replace(/\/+$/, '') }
      } catch (err) {
        return hostTenant ? 'tenant_invalid' : String(err)
      }
    }
    fc.assert(
      fc.property(url, fc.array(fc.option(label, { nil: undefined }), { minLength: 1, maxLength: 6 }), (u, tenants) => {
        const destination = compileDestination(u, undefined)
        // Twice each: the second answer comes from the cache.
        for (const t of [...tenants, ...tenants]) {
          let cached: { origin: string; path: string } | string
          try {
            const at = destination.at(t)
            cached = { origin: at.origin, path: at.path }
          } catch (err) {
            cached = err instanceof GatewayError ? err.reason : String(err)
          }
          expect(cached).toEqual(direct(u, t))
        }
      }),
      { seed: 2121, numRuns: 5_000 },
    )
  })

  it('past the bounded tenant cache, every tenant still gets its own origin', () => {
    const destination = compileDestination('https://{tenant}.api.partner.test/t/{tenant}', '/ignored/')
    expect(destination.prefix).toBe('/ignored')
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < MAX_CACHED_TENANTS + 50; n++) {
        const at = destination.at(`t${n}`)
        expect(at.origin).toBe(`https://t${n}.api.partner.test`)
        expect(at.path).toBe(`/t/t${n}`)
      }
    }
  })

  it('the fast path of the path check accepts only paths the full check accepts, and the outcome is the same (30,000 cases)', () => {
    const plainish = fc
      .array(fc.oneof(fc.constantFrom('/', '.', '..', '%', '%2e', '\\', ';', '\u0000', '\u007f', '\u00e9', '\ud800', '{{pin}}', '~', ':', '@'), fc.stringMatching(/^[A-Za-z0-9._~;=-]{1,8}$/)), { maxLength: 10 })
      .map((p) => `/${p.join('')}`)
    const result = (check: (p: string) => void, p: string): string => {
      try {
        check(p)
        return 'accepted'
      } catch (err) {
        if (err instanceof GatewayError) return `${err.reason}: ${err.message}`
        throw err
      }
    }
    fc.assert(
      fc.property(fc.oneof(tricky, plainish), (path) => {
        const full = result(checkRequestPathFully, path)
        if (isPlainPath(path)) expect(full, JSON.stringify(path)).toBe('accepted')
        expect(result(checkRequestPath, path)).toBe(full)
        // The dot-segment test's own shortcut against the plain split it skips (a name ends at ";", "?" or "#", trailing spaces dropped).
        const bySplit = path.split(/[/\\]/).some((seg) => ['.', '..'].includes((seg.split(/[;?#]/)[0] as string).replace(/ +$/, '')))
        expect(hasDotSegment(path), JSON.stringify(path)).toBe(bySplit)
      }),
      { seed: 2122, numRuns: 30_000 },
    )
  })

  it('the assertion before the dial refuses a URL a step moved to another origin or out of the base path', () => {
    const target = buildUpstreamTarget(FORWARD, undefined, '/base/x', '', 'as_is')
    expect(() => assertDestination(target, new URL('https://evil.test:8443/base/x'))).toThrow(GatewayError)
    expect(() => assertDestination(target, new URL('https://api.partner.test:8443/other'))).toThrow(GatewayError)
    expect(() => assertDestination(target, new URL('https://api.partner.test:8443/base/y?z=1'))).not.toThrow()
    // The cause reaches the access line (internal errors log it): it must not carry the path, which
    // after path fields may hold a field value.
    const secret = '4929123456781234'
    let cause = ''
    try {
      assertDestination(target, new URL(`https://api.partner.test:8443/accounts/${secret}`))
    } catch (e) {
      cause = String(((e as GatewayError).cause as Error).stack)
    }
    expect(cause).toContain('left the base path /base')
    expect(cause).not.toContain(secret)
  })

  it("each endpoint's pool dials only its own host:port (tenant = one DNS label), refusing anything else before a byte is sent", async () => {
    const fixed = endpointAuthority(['https://api.partner.test:8443/v1'])
    expect(fixed('api.partner.test', 8443)).toBe(true)
    expect(fixed('API.partner.test', 8443)).toBe(true)
    expect(fixed('api.partner.test', 443)).toBe(false)
    expect(fixed('127.0.0.1', 8443)).toBe(false)
    const tenanted = endpointAuthority(['https://{tenant}.api.partner.test/v1'])
    expect(tenanted('acme.api.partner.test', 443)).toBe(true)
    expect(tenanted('evil.test.api.partner.test', 443)).toBe(false)
    expect(tenanted('api.partner.test', 443)).toBe(false)
    expect(endpointAuthority(['https://[::1]:8443'])('[::1]', 8443)).toBe(true)
    // The dance's token URLs (configured, templated) are the only other origins a pool reaches.
    const withTokens = endpointAuthority(['https://api.partner.test:8443/v1', 'https://{{tenant}}.tokens.partner.test:9443/t/{{fields.org}}/rt?u={{user}}'])
    expect(withTokens('acme.tokens.partner.test', 9443)).toBe(true)
    expect(withTokens('api.partner.test', 8443)).toBe(true)
    expect(withTokens('acme.tokens.partner.test', 8443)).toBe(false)
    expect(withTokens('tokens.partner.test', 9443)).toBe(false)
    const connector = createConnector({
      endpoint: 'ep', context: createSecureContext(), pins: [], connectMs: 1000, responseMs: 1000, idleMs: 1000, keepAliveMs: 1000, connections: 1,
      authority: fixed,
    })
    const err = await new Promise<Error | null>((resolve) => connector({ hostname: '127.0.0.1', host: '127.0.0.1:9', port: '9', protocol: 'https:' } as Parameters<typeof connector>[0], (e: Error | null, _socket: unknown) => resolve(e)))
    expect((err as NodeJS.ErrnoException | null)?.code).toBe('ERR_GATEWAY_ORIGIN_MISMATCH')
  })
})

describe('paths with Unicode look-alikes of "." and "/"', () => {
  // Characters that fold to ".", "..", "/", "\\", "%", the "2" and "e" of "%2e", ";", "?" — and ones that fold to nothing of the kind.
  // Vulgar fractions and units NFKC writes with a slash look-alike ("½" is "1⁄2", "㎧" "m∕s"), and "℅" (NFKC "c/o", a real "/").
  const FRACTIONS = ['\u00bd', '\u00bc', '\u00be', '\u2153', '\u215f', '\u2189', '\u33a7', '\u33c6']
  const UNICODE = ['\uff0e', '\u2024', '\u2025', '\ufe52', '\uff0f', '\uff3c', '\ufe68', '\u2215', '\u2044', '\u29f8', '\u2216', '\uff05', '\uff12', '\uff45', '\uff1b', '\uff1f', 'é', 'ノ', '\u2105', ...FRACTIONS]
  /** One of `chars` raw, percent-encoded once, or twice (as `times` allows). */
  const spelled = (chars: readonly string[], times: readonly number[] = [0, 1, 1, 2]): fc.Arbitrary<string> =>
    fc.tuple(fc.constantFrom(...chars), fc.constantFrom(...times)).map(([c, times]) => {
      let s = c
      for (let i = 0; i < times; i++) s = encodeURIComponent(s)
      return s
    })
  /** One piece of a path: ASCII, or a Unicode character raw, percent-encoded once, or twice. */
  const piece = fc.oneof(fc.constantFrom('/', 'a', 'base', 'globex', '.', '..', '%2e', '%2F', '%25', ';x', '%3F', '%23', '%20'), spelled(UNICODE))
  const path = fc.array(piece, { minLength: 1, maxLength: 10 }).map((p) => `/${p.join('')}`)

  it('every forwarded path, as a backend that decodes and folds Unicode (NFKC) reads it, stays under the base path and tenant segment; the rest are 400 (seeded, 20,000 paths)', () => {
    let forwarded = 0
    fc.assert(
      fc.property(path, fc.boolean(), (p, route) => {
        const base = route ? '/t/acme/v1' : '/base'
        const r = outcome(() => (route ? buildUpstreamTarget(ROUTE, 'acme', p, '', 'append') : buildUpstreamTarget(FORWARD, undefined, `/base${p}`, '', 'as_is')))
        if (r instanceof GatewayError) return void expect(STATUS[r.reason], r.message).toBe(400)
        forwarded++
        const sent = toOutboundUrl(r).pathname
        for (const read of backendReadings(sent)) expect(read === base || read.startsWith(`${base}/`), `${JSON.stringify(p)} sent as ${sent}, read as ${read}`).toBe(true)
      }),
      { seed: 0xff0e, numRuns: 20_000 },
    )
    // Not an empty property: ASCII and Unicode that folds to nothing of the kind still go through.
    expect(forwarded).toBeGreaterThan(1_000)
  })

  it('a "/" or "\\" that folding adds is refused without a dot-segment too (it splits a segment); Unicode that folds to other text is not', () => {
    for (const c of ['\uff0f', '\uff3c', '\ufe68', '\u2215', '\u2044', '\u29f8', '\u2216']) {
      for (const spelled of [c, encodeURIComponent(c), encodeURIComponent(encodeURIComponent(c))]) expect(() => checkRequestPath(`/a${spelled}b`), JSON.stringify(spelled)).toThrow(/split the segment there/)
    }
    for (const ok of ['/v%EF%BC%8E2', '/caf%C3%A9', '/%E3%83%8E', '/%EF%BC%9F', '/%EF%BC%85', '/a%E2%80%A4b', '/%E2%92%88']) expect(() => checkRequestPath(ok), ok).not.toThrow()
    // NFKC's own text with a real "/" in it: refused, with no "%2F" advice (there is no slash to encode).
    for (const c of ['\u2100', '\u2101', '\u2105', '\u2106']) expect(() => checkRequestPath(`/a${encodeURIComponent(c)}b`), c).toThrow(/", whose "\/" would split the segment there: every spelling of U\+21/)
    // "⅟" is "1⁄" to NFKC: a backend that then reads that "⁄" as "/" sees "1/..", a dot-segment; the path field rule holds to it too.
    for (const p of ['/a/%E2%85%9F..', '/a/%E2%85%9F%252e%252e/b', '/a/%E2%85%9F.']) {
      expect(outcome(() => buildUpstreamTarget(ROUTE, 'acme', p, '', 'append')), p).toMatchObject({ reason: 'path_escapes_base', message: expect.stringMatching(/^the request path holds U\+215F \(in some encoding\), .* reads as "1\/": it would see a dot-segment/) })
    }
    for (const v of ['\u215f..', '\u215f.']) expect(pathSegmentProblem(v), v).toMatchObject({ reason: 'path_escapes_base' })
  })

  it('segments of ordinary text with vulgar fractions and units (NFKC writes "½" as "1⁄2": a look-alike the path never held) are forwarded, in route mode and as path fields fill them (seeded, 5,000 paths)', () => {
    const word = fc.constantFrom('pipe', 'inch', 'a', '-', '_', '~', '2', 'caf%C3%A9')
    // Percent-encoded, as a request target carries them (once, or twice for a backend that decodes twice).
    const segment = fc.array(fc.oneof(word, spelled(FRACTIONS, [1, 2])), { minLength: 1, maxLength: 5 }).map((p) => p.join(''))
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (segments) => {
        const p = `/${segments.join('/')}`
        expect(toOutboundUrl(buildUpstreamTarget(ROUTE, 'acme', p, '', 'append')).pathname, p).toBe(`/t/acme/v1${p}`)
        for (const value of segments.map((s) => decodeURIComponent(s))) expect(pathSegmentProblem(value), value).toBeUndefined()
      }),
      { seed: 0xbd, numRuns: 5_000 },
    )
  })
})

describe('a tenant in the host (review rev-e)', () => {
  // WHATWG URL reads a host ending in a number as IPv4: `https://{tenant}` with the tenant
  // 2130706433 was 127.0.0.1, which the pool's origin check then refused as a gateway bug (500).
  const HOSTS = ['https://{tenant}:8443/v1', 'https://{tenant}.partner.test/v1', 'https://api.{tenant}:8443', 'https://api-{tenant}.partner.test']
  const label = fc.oneof(
    fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/),
    fc.constantFrom('2130706433', '0x7f000001', '0x7f', '1', '0', '017700000001', '4294967295', '4294967296', 'xn--a', 'xn--nxasmq6b', '0xffffffff', '08', 'localhost'),
  )
  it('a DNS-label tenant gives a 400 or a host the endpoint\'s own origin check accepts, never an IP address (5,000 cases)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...HOSTS), label, (url, tenant) => {
        const r = outcome(() => buildUpstreamTarget(endpoint(url), tenant, '/x', '', 'append'))
        if (r instanceof GatewayError) {
          expect(r.reason).toBe('tenant_invalid')
          return
        }
        const u = new URL(r.origin)
        expect(u.hostname).toBe(url.replace(/^https:\/\//, '').split(/[/:]/)[0]!.replace('{tenant}', tenant))
        expect(endpointAuthority([url])(u.hostname, Number(u.port) || 443)).toBe(true)
      }),
      { seed: 0x7e5e, numRuns: 5_000 },
    )
  })
  it('the IPv4 spellings of 127.0.0.1 as a whole-host tenant are refused with 400', () => {
    for (const t of ['2130706433', '0x7f000001']) {
      const r = outcome(() => buildUpstreamTarget(endpoint('https://{tenant}:8443'), t, '/x', '', 'append'))
      expect(r).toBeInstanceOf(GatewayError)
      expect(STATUS[(r as GatewayError).reason]).toBe(400)
    }
  })
})
