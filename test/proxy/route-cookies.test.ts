/**
 * Route mode's Set-Cookie scoping, alone: Path mapped from the endpoint's base path to
 * `/proxy/<endpoint>[@tenant]/…`, Domain dropped, the rest kept; several headers; the default
 * path of RFC 6265 §5.1.4; attribute names in any case; malformed values dropped, never a
 * crash. A seeded property over generated Set-Cookie values checks with undici's own cookie
 * parser that the result stays a valid header whose one Path is under the endpoint's prefix,
 * with name, value and the other attributes unchanged; a second one spells the base path in
 * generated percent-encodings (mixed case, `%2F`, `%2e`) and checks where each Path lands.
 */
import { validateHeaderValue } from 'node:http'
import fc from 'fast-check'
import { getSetCookies, Headers } from 'undici'
import { describe, expect, it } from 'vitest'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import { cookieScope, routeCookieScope, scopeSetCookie, scopeSetCookies, type CookieScope } from '../../src/proxy/route-cookies.js'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { buildUpstreamTarget } from '../../src/proxy/upstream-target.js'

const scope = (base: string, upstreamPath = `${base}/x`, tenant?: string): CookieScope => cookieScope('a', tenant, base, upstreamPath)
const API = scope('/api', '/api/v1/login')

/** undici's parse of one Set-Cookie value (what a fetch-side cookie jar would store). */
function parsed(value: string): ReturnType<typeof getSetCookies>[number] | undefined {
  const h = new Headers()
  h.append('set-cookie', value)
  return getSetCookies(h)[0]
}

/** RFC 6265 §5.1.4 path-match. */
const pathMatch = (request: string, cookie: string): boolean =>
  request === cookie || (request.startsWith(cookie) && (cookie.endsWith('/') || request[cookie.length] === '/'))

describe('scopeSetCookie', () => {
  it('maps Path from the base path to the route prefix and drops Domain, keeping the rest as sent', () => {
    expect(scopeSetCookie('sid=1; Path=/; Domain=api.partner.test; HttpOnly', scope(''))).toBe('sid=1; HttpOnly; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/api/v1; Secure; SameSite=Lax; Max-Age=60', API)).toBe('sid=1; Secure; SameSite=Lax; Max-Age=60; Path=/proxy/a/v1')
    expect(scopeSetCookie('sid=1; Path=/api', API)).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/api/', API)).toBe('sid=1; Path=/proxy/a/')
    // Outside the base path (the whole origin, or a sibling such as /apix): the endpoint's root.
    expect(scopeSetCookie('sid=1; Path=/', API)).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/apix/y', API)).toBe('sid=1; Path=/proxy/a/')
    // The tenant segment is part of the prefix, as the caller addressed it.
    expect(scopeSetCookie('sid=1; Path=/t/acme/p', cookieScope('c', 'Acme', '/t/acme', '/t/acme/p/x'))).toBe('sid=1; Path=/proxy/c@Acme/p')
  })

  it('a base path with a path-field placeholder maps without putting the field value into the cookie path', () => {
    const s = cookieScope('a', undefined, '/x/{{acct}}/v1', '/x/{{acct}}/v1/p/q')
    expect(scopeSetCookie('sid=1; Path=/x/4711-secret/v1/p', s)).toBe('sid=1; Path=/proxy/a/p')
    expect(scopeSetCookie('sid=1', s)).toBe('sid=1; Path=/proxy/a/p')
  })

  it('a missing, empty or relative Path means the default path of the upstream request (RFC 6265 §5.1.4), mapped', () => {
    expect(scopeSetCookie('sid=1', API)).toBe('sid=1; Path=/proxy/a/v1')
    expect(scopeSetCookie('sid=1; Path', API)).toBe('sid=1; Path=/proxy/a/v1')
    expect(scopeSetCookie('sid=1; Path=', API)).toBe('sid=1; Path=/proxy/a/v1')
    expect(scopeSetCookie('sid=1; Path=relative/x', API)).toBe('sid=1; Path=/proxy/a/v1')
    expect(scopeSetCookie('sid=1', scope('/api', '/api/login'))).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1', scope('', '/login'))).toBe('sid=1; Path=/proxy/a/')
  })

  it('recognises the base path in an equivalent percent-encoding (RFC 3986 §6.2.2), as Location does; the rest stays as sent', () => {
    const team = scope('/~team', '/~team/app/x')
    expect(scopeSetCookie('sid=1; Path=/%7Eteam/app', team)).toBe('sid=1; Path=/proxy/a/app')
    expect(scopeSetCookie('sid=1; Path=/%7eteam/%61pp/deep', team)).toBe('sid=1; Path=/proxy/a/%61pp/deep')
    expect(scopeSetCookie('sid=1; Path=/%7Eteam', team)).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/~team/app', scope('/%7Eteam'))).toBe('sid=1; Path=/proxy/a/app')
    expect(scopeSetCookie('sid=1; Path=/api/v%31/x', scope('/api/v1'))).toBe('sid=1; Path=/proxy/a/x')
    expect(scopeSetCookie('sid=1; Path=/t/%41cme/p', cookieScope('c', 'acme', '/t/acme', '/t/acme/p/x'))).toBe('sid=1; Path=/proxy/c@acme/')
    expect(scopeSetCookie('sid=1; Path=/t/%61cme/p', cookieScope('c', 'acme', '/t/acme', '/t/acme/p/x'))).toBe('sid=1; Path=/proxy/c@acme/p')
    // %2F is no "/", a sibling stays a sibling, an encoded dot-segment in the rest keeps the cookie at the root.
    for (const other of ['/%7Eteam%2Fapp', '/%7Eteam%2fapp/x', '/%7Eteamx/app', '/%7Eteam/%2e%2e/b', '/%7Eteam/.%2E/b']) expect(scopeSetCookie(`sid=1; Path=${other}`, team), other).toBe('sid=1; Path=/proxy/a/')
    // A path field's segment stays one segment whatever its spelling; the default path is read the same way.
    expect(scopeSetCookie('sid=1; Path=/x/%34711/v%31/p', scope('/x/{{acct}}/v1'))).toBe('sid=1; Path=/proxy/a/p')
    expect(scopeSetCookie('sid=1', scope('/%7Eteam', '/%7Eteam/app/x'))).toBe('sid=1; Path=/proxy/a/app')
  })

  it('reads attribute names in any case; the last Path wins, every Domain goes', () => {
    expect(scopeSetCookie('sid=1;PATH=/api/x;  dOmAiN=.partner.test ;SECURE;path=/api/y;Domain=evil.test', API)).toBe('sid=1; SECURE; Path=/proxy/a/y')
  })

  it('keeps a cookie jar from leaving the prefix: dot-segments, backslashes and over-long paths stay at the endpoint root', () => {
    expect(scopeSetCookie('sid=1; Path=/api/../../x', API)).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/api/%2E%2E/x', API)).toBe('sid=1; Path=/proxy/a/')
    expect(scopeSetCookie('sid=1; Path=/api/a\\b', API)).toBe('sid=1; Path=/proxy/a/')
    // RFC 6265bis: a jar ignores a Path over 1024 bytes and falls back to the default path, which may be outside.
    expect(scopeSetCookie(`sid=1; Path=/api/${'p'.repeat(1100)}`, API)).toBe('sid=1; Path=/proxy/a/')
  })

  it('drops what no jar would store (characters no header may carry, no name and no value); passes a nameless cookie rewritten', () => {
    for (const bad of ['', '   ', '=', ' = ; Path=/', '; Path=/', 'a=b\x00c; Path=/', 'a=b; Path=/\x7f', 'a=\u0100']) expect(scopeSetCookie(bad, API), JSON.stringify(bad)).toBeUndefined()
    expect(scopeSetCookie('justavalue; Path=/', API)).toBe('justavalue; Path=/proxy/a/')
    expect(scopeSetCookie('=v', API)).toBe('=v; Path=/proxy/a/v1')
  })

  it('scopeSetCookies rewrites every header of a response and removes the header when none is left', () => {
    const headers: OutboundHeaders = { 'set-cookie': ['a=1; Path=/api/x', 'bad\x01', 'b=2; Domain=x.test'], 'content-type': 'text/plain' }
    scopeSetCookies(headers, API)
    expect(headers).toEqual({ 'set-cookie': ['a=1; Path=/proxy/a/x', 'b=2; Path=/proxy/a/v1'], 'content-type': 'text/plain' })
    const single: OutboundHeaders = { 'set-cookie': 'a=1' }
    scopeSetCookies(single, API)
    expect(single).toEqual({ 'set-cookie': ['a=1; Path=/proxy/a/v1'] })
    const none: OutboundHeaders = { 'set-cookie': ['\x00'] }
    scopeSetCookies(none, API)
    expect(none).toEqual({})
  })

  it("a response's scope reuses its endpoint snapshot's base-path pattern (nothing compiled per response; a reload's snapshot has its own), and scopes as one compiled afresh", () => {
    const snapshot = (url: string): Endpoint => ({ name: 'a', destination: compileDestination(url, undefined) }) as unknown as Endpoint
    const response = (endpoint: Endpoint, tenant: string | undefined, path: string): Admitted =>
      ({ route: { endpoint: 'a', tenant, path }, target: buildUpstreamTarget(endpoint, tenant, path, '', 'append') }) as unknown as Admitted
    for (const [url, tenant] of [['https://api.partner.test/api', undefined], ['https://api.partner.test/%7Eteam/api', undefined], ['https://api.partner.test/t/{tenant}/x', 'acme']] as const) {
      const [loaded, reloaded] = [snapshot(url), snapshot(url)]
      const [first, second, afterReload] = [routeCookieScope(response(loaded, tenant, '/v1/login')), routeCookieScope(response(loaded, tenant, '/v2/other')), routeCookieScope(response(reloaded, tenant, '/v1/login'))]
      expect([first.under === second.under, first.under === afterReload.under, String(first.under) === String(afterReload.under)], url).toEqual([true, false, true])
      const base = buildUpstreamTarget(loaded, tenant, '/v1/login', '', 'append').basePath
      const fresh = cookieScope('a', tenant, base, `${base}/v1/login`)
      for (const cookie of ['sid=1', `sid=1; Path=${base}/v1`, 'sid=1; Path=/~team/api/v1', 'sid=1; Path=/%7eteam/api', 'sid=1; Path=/t/acme/x/y', 'sid=1; Path=/elsewhere']) {
        expect(scopeSetCookie(cookie, first), `${url} ${cookie}`).toBe(scopeSetCookie(cookie, fresh))
      }
    }
  })
})

describe('property: a rewritten Set-Cookie stays a valid header under the prefix (seeded, 5,000 runs)', () => {
  const anyCase = (s: string): fc.Arbitrary<string> => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''))
  const ws = fc.constantFrom('', ' ', '  ', '\t')
  const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 12 })
  const token = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.!~%'.split('')), maxLength: 8 })
  const pathValue = fc.oneof(
    fc.constantFrom('', '/', '/api', '/api/', '/apix', 'relative', '/api/../x', '/api/%2e%2e/', '/api/a\\b', `/api/${'q'.repeat(1030)}`),
    fc.constantFrom('/%61pi/x', '/%61PI/x', '/a%70i%2Fx', '/%7Eteam/x', '/%7eteam/%2E./y', '/~team%2fx', '/t/%61cme/x', '/t%2Facme/x', '/x/%7B%7Bacct%7D%7D/v%31/y'),
    fc.array(fc.oneof(token, fc.constantFrom('.', '..', 'api', 'v1', '{{acct}}')), { maxLength: 5 }).map((segs) => `/${segs.join('/')}`),
    fc.array(token, { maxLength: 4 }).map((segs) => `/api/${segs.join('/')}`),
    latin1,
  )
  const attribute = fc.oneof(
    fc.tuple(anyCase('path'), ws, pathValue).map(([n, w, v]) => `${n}${w}=${w}${v}`),
    anyCase('path'),
    fc.tuple(anyCase('domain'), fc.constantFrom('api.partner.test', '.partner.test', '127.0.0.1', '', 'evil.test')).map(([n, v]) => `${n}=${v}`),
    anyCase('secure'), anyCase('httponly'),
    fc.tuple(anyCase('samesite'), fc.constantFrom('Lax', 'Strict', 'None', 'bogus')).map(([n, v]) => `${n}=${v}`),
    fc.tuple(anyCase('max-age'), fc.integer({ min: -5, max: 100000 })).map(([n, v]) => `${n}=${v}`),
    fc.constant('Expires=Wed, 21 Oct 2037 07:28:00 GMT'),
    fc.tuple(token, token).map(([n, v]) => `${n}=${v}`),
    latin1,
  )
  const setCookie = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(token, fc.constantFrom('=', ''), token, fc.array(fc.tuple(ws, attribute, ws), { maxLength: 6 })).map(([n, eq, v, attrs]) => `${n}${eq}${v}${attrs.map(([a, b, c]) => `;${a}${b}${c}`).join('')}`) },
    { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x17f }).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
  )
  const scopes = fc.record({
    base: fc.constantFrom('', '/api', '/t/acme', '/x/{{acct}}/v1', '/~team', '/%7Eteam'),
    tenant: fc.option(fc.constantFrom('acme', 'Globex'), { nil: undefined }),
    rest: fc.constantFrom('', '/', '/v1/login', '/deep/er/path'),
  })

  it('the header validates, parses (undici) with one Path under /proxy/a[@t]/ and no Domain, and keeps name, value and the other attributes', () => {
    fc.assert(
      fc.property(setCookie, scopes, (value, s) => {
        const sc = cookieScope('a', s.tenant, s.base, `${s.base}${s.rest || '/'}`)
        const out = scopeSetCookie(value, sc)
        if (out === undefined) return
        expect(() => validateHeaderValue('set-cookie', out)).not.toThrow()
        expect(out).toBe(out.trim())
        const root = `${sc.prefix}/`
        const attrs = out.split(';').slice(1).map((a) => a.trim())
        expect(attrs.filter((a) => /^path\s*(=|$)/i.test(a))).toHaveLength(1)
        expect(attrs.filter((a) => /^domain\s*(=|$)/i.test(a))).toHaveLength(0)
        const mine = parsed(out)
        // undici (RFC 6265bis) refuses some values a header may carry (e.g. a control character in the name): never ours to pass on.
        if (mine === undefined) return
        expect(mine.path?.startsWith(root), `${JSON.stringify(value)} → ${out}`).toBe(true)
        expect(mine.domain).toBeUndefined()
        // A jar never sends it to another endpoint or tenant, nor to a sibling name sharing a prefix.
        for (const foreign of ['/proxy/b/x', '/proxy/ab/x', '/proxy/a@other/x', '/proxy/a-b/x', '/', '/proxy/']) expect(pathMatch(foreign, mine.path as string)).toBe(false)
        const theirs = parsed(value)
        if (theirs !== undefined) {
          // An empty attribute (";;") is dropped: undici lists it as "=" among the unknown ones.
          const known = (c: typeof mine): unknown => ({ ...c, path: undefined, domain: undefined, unparsed: (c.unparsed ?? []).filter((u) => u !== '=') })
          expect(known(mine)).toEqual(known(theirs))
        }
      }),
      { seed: 0xc00c1e, numRuns: 5000 },
    )
  })
})

describe('property: the base path spelled in any percent-encoding (seeded, 5,000 runs)', () => {
  const BASES = ['/~team', '/%7Eteam', '/api/v1.0', '/t/acme', '/a.b/~c-d_e']
  /** `base` (decoded) with each character after the leading "/" kept or percent-encoded in upper, lower or mixed case. */
  const spelled = (base: string): fc.Arbitrary<{ path: string; slashEncoded: boolean }> => {
    const plain = decodeURIComponent(base)
    return fc.array(fc.constantFrom('keep', 'upper', 'lower', 'mixed'), { minLength: plain.length - 1, maxLength: plain.length - 1 }).map((how) => {
      let slashEncoded = false
      const path = `/${[...plain.slice(1)].map((c, i) => {
        const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
        if (how[i] === 'keep') return c
        if (c === '/') slashEncoded = true
        return how[i] === 'upper' ? `%${hex.toUpperCase()}` : how[i] === 'lower' ? `%${hex.toLowerCase()}` : `%${hex[0]?.toLowerCase()}${hex[1]?.toUpperCase()}`
      }).join('')}`
      return { path, slashEncoded }
    })
  }
  const segment = fc.oneof(fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.!~%'.split('')), maxLength: 6 }), fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2E', 'x%2Fy', '%2F', 'a\\b', 'app'))
  const cases = fc.constantFrom(...BASES).chain((base) =>
    fc.record({ base: fc.constant(base), spelling: spelled(base), rest: fc.array(segment, { maxLength: 4 }).map((segs) => segs.map((s) => `/${s}`).join('')), tenant: fc.option(fc.constantFrom('acme', 'Globex'), { nil: undefined }) }))

  it('an equivalent spelling maps the rest as sent, anything else lands on the endpoint root; never outside /proxy/a[@t]/', () => {
    fc.assert(
      fc.property(cases, ({ base, spelling, rest, tenant }) => {
        const sc = cookieScope('a', tenant, base, `${base}/x`)
        const out = scopeSetCookie(`sid=1; Path=${spelling.path}${rest}`, sc) as string
        const path = parsed(out)?.path as string
        const root = `${sc.prefix}/`
        const safeRest = !/(^|\/)\.\.?(\/|$)|%2e|\\/i.test(rest)
        expect(path, `${spelling.path}${rest} under ${base}`).toBe(!spelling.slashEncoded && safeRest && rest !== '' ? `${sc.prefix}${rest}` : root)
        for (const foreign of ['/proxy/b/x', '/proxy/ab/x', '/proxy/a@other/x', '/proxy/a-b/x', '/', '/proxy/']) expect(pathMatch(foreign, path)).toBe(false)
      }),
      { seed: 0x7e7ea, numRuns: 5000 },
    )
  })
})
