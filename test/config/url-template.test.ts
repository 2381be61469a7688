/**
 * Profile URL templates: where placeholders may sit, how each value is encoded for the part
 * it lands in, and — as properties over generated values — that a filled URL keeps the
 * configured origin, path prefix and query names whatever the user's fields, the user id
 * or the tenant say.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fillUrlTemplate, parseUrlTemplate, type FilledUrl, type UrlScope } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { fillProfileUrl, type Profile } from '../../src/gateway/index.js'
import { backendReadings, fieldValueArb, ORDINARY_VALUE, segmentTexts } from '../proxy/destination-cases.js'

const fill = (source: string, scope: Partial<UrlScope> = {}): FilledUrl => fillUrlTemplate(parseUrlTemplate(source), { fields: {}, ...scope })
const refusal = (r: FilledUrl): string => {
  if (!('refused' in r)) throw new Error(`not refused: ${JSON.stringify(r)}`)
  return r.refused
}
const urlOf = (r: FilledUrl): string => {
  if (!('url' in r)) throw new Error(`not filled: ${JSON.stringify(r)}`)
  return r.url
}

describe('parseUrlTemplate', () => {
  it('accepts the documented forms and lists the fields it names', () => {
    expect(parseUrlTemplate('https://erp.example.com/sap/opu/odata/sap/{{fields.authfield1}}/?$format=json').fieldNames).toEqual(['authfield1'])
    expect(parseUrlTemplate('https://{tenant}.service-now.com/oauth/authorize').fieldNames).toEqual([])
    expect(parseUrlTemplate('https://{{tenant}}.example.com/{{user}}?a={{fields.a}}&b={{fields.b}}#{{fields.a}}').fieldNames).toEqual(['a', 'b'])
  })
  it('refuses what could move the origin or has no value in the dance', () => {
    expect(() => parseUrlTemplate('https://{{fields.host}}.example.com/')).toThrow('only {tenant} may appear in the host')
    expect(() => parseUrlTemplate('https://{{user}}/')).toThrow('only {tenant} may appear in the host')
    expect(() => parseUrlTemplate('https://api.example.com:{tenant}/')).toThrow('not in the port or userinfo')
    expect(() => parseUrlTemplate('https://{tenant}@api.example.com/')).toThrow('userinfo')
    expect(() => parseUrlTemplate('https://api.example.com/{{claims.pin}}')).toThrow('{{claims.pin}} cannot be used in a URL')
    expect(() => parseUrlTemplate('https://api.example.com/{{nope}}')).toThrow('unknown placeholder {{nope}}')
    expect(() => parseUrlTemplate('ftp://x/')).toThrow('must start with http:// or https://')
  })
})

describe('fillUrlTemplate', () => {
  it('fills the issue\'s examples', () => {
    expect(urlOf(fill('https://erp.example.com/sap/opu/odata/sap/{{fields.authfield1}}/?$format=json', { fields: { authfield1: 'ZSRV_01' } }))).toBe(
      'https://erp.example.com/sap/opu/odata/sap/ZSRV_01/?$format=json',
    )
    expect(urlOf(fill('https://{tenant}.service-now.com/oauth/authorize', { tenant: 'acme' }))).toBe('https://acme.service-now.com/oauth/authorize')
  })
  it('percent-encodes reserved characters in the path and the query, so they stay data', () => {
    // (A path value may not hold "/", "?" or "#" at all: see the one-segment rule below.)
    const r = fill('https://api.example.com/o/{{fields.org}}/x?who={{user}}&t={{tenant}}', { tenant: 'acme', user: 'a&b=c #1/?', fields: { org: 'a@e%f é+c=d;x' } })
    expect(urlOf(r)).toBe('https://api.example.com/o/a%40e%25f%20%C3%A9%2Bc%3Dd%3Bx/x?who=a%26b%3Dc%20%231%2F%3F&t=acme')
    const u = new URL(urlOf(r))
    expect([u.pathname.split('/')[2], u.searchParams.get('who')]).toEqual(['a%40e%25f%20%C3%A9%2Bc%3Dd%3Bx', 'a&b=c #1/?'])
  })
  it('names a missing value, refuses a non-DNS tenant in the host, dot segments and lone surrogates', () => {
    expect(fill('https://api.example.com/{{fields.org}}')).toEqual({ missing: 'fields.org' })
    expect(fill('https://api.example.com/{{user}}')).toEqual({ missing: 'user' })
    expect(fill('https://{tenant}.example.com/')).toEqual({ missing: 'tenant' })
    expect(fill('https://{tenant}.example.com/', { tenant: 'evil.com/' })).toEqual({ refused: 'tenant is not a DNS label' })
    expect(refusal(fill('https://api.example.com/a/{{fields.x}}/b', { fields: { x: '..' } }))).toMatch(/^the path segment holding fields\.x is a dot-segment/)
    expect(refusal(fill('https://api.example.com/a/{{fields.x}}{{fields.x}}', { fields: { x: '.' } }))).toMatch(/^the path segment holding fields\.x is a dot-segment/)
    expect(urlOf(fill('https://api.example.com/a/v{{fields.x}}', { fields: { x: '..' } }))).toBe('https://api.example.com/a/v..')
    expect(fill('https://api.example.com/{{fields.x}}', { fields: { x: 'a\ud800' } })).toEqual({ refused: 'fields.x is not valid Unicode' })
  })

  // The edge review's finding: `..%2Fx` was a path segment that a backend decoding %2F before routing resolves out of place.
  it('a path value holds exactly one segment at every decoding depth, by the rule path fields obey', () => {
    const at = (x: string, template = 'https://api.example.com/t/{tenant}/acct/{{fields.x}}/statement'): string => refusal(fill(template, { tenant: 'acme', fields: { x } }))
    for (const x of ['../x', '../../victim/acct/42', '..\\x', 'a/b', '%2e%2e', '%252e%252e%252f', '..%2Fx', '．．', '／x', 'a?b', 'a#b', '%c0%ae%c0%ae']) {
      expect(at(x), JSON.stringify(x)).toMatch(/^the path segment holding fields\.x (contains "\/"|is a dot-segment|percent-decodes to octets that are not UTF-8)/)
    }
    for (const x of ['a\u0000b', '42\t', '%0d%0a', '%2500']) expect(at(x), JSON.stringify(x)).toMatch(/control character/)
    for (const x of ['', ' ', ' 42', '42 ', '%2042', '42%20', '\u00a042', '42\u3000']) expect(at(x), JSON.stringify(x)).toMatch(/is empty|whitespace/)
    // Two values and a literal that make a dot-segment only together, two decodings down.
    expect(refusal(fill('https://api.example.com/a/{{fields.x}}{{fields.y}}/b', { fields: { x: '%2', y: 'e.' } }))).toMatch(/holding fields\.x, fields\.y is a dot-segment/)
    expect(refusal(fill('https://api.example.com/a/{{fields.x}}/b', { fields: { x: 'secret/../42' } }))).not.toContain('secret')
    // What stays one segment is filled, the reserved characters as data.
    expect(urlOf(fill('https://api.example.com/a/{{fields.x}}/b', { fields: { x: 'ACC-42 7+x@y:z;v=1' } }))).toBe('https://api.example.com/a/ACC-42%207%2Bx%40y%3Az%3Bv%3D1/b')
  })
  it('a profile URL a user field would move out of its segment is a 400 naming the profile, the URL and the placeholder', () => {
    const profile = { name: 'erp', config: { requestTokenUrl: 'https://erp.example.com/sap/{{fields.org}}/request_token', additionalFields: { org: 'ZSRV' } } } as unknown as Profile
    expect(fillProfileUrl(profile, 'requestTokenUrl', {})?.url).toBe('https://erp.example.com/sap/ZSRV/request_token')
    for (const org of ['../x', '..%2Fadmin', ' ZSRV']) {
      let thrown: unknown
      try {
        fillProfileUrl(profile, 'requestTokenUrl', { fields: { org } })
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(GatewayError)
      expect((thrown as GatewayError).reason).toBe('bad_request')
      expect((thrown as GatewayError).message).toMatch(/^profile "erp": requestTokenUrl: the path segment holding fields\.org /)
    }
  })

  it('shows the URL with only the tenant filled, so field values stay out of messages', () => {
    expect(fill('https://{tenant}.example.com/{{fields.pin}}?u={{user}}', { tenant: 'acme', user: 'u1', fields: { pin: '1234' } })).toMatchObject({
      shown: 'https://acme.example.com/{{fields.pin}}?u={{user}}',
    })
  })
})

// Values built to attack URL structure, mixed with arbitrary Unicode.
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: fc.constantFrom('/', '?', '#', '@', ':', '.', '%', '\\', '[', ']', '&', '=', '+', ' ', 'a', '2', 'e', '\t', '\n'), maxLength: 16 }),
  fc.constantFrom('..', '.', '%2e%2E', '//evil.example', '@evil.example', 'evil.example:1', '\\\\evil.example', 'x#y', '?a=b', '%00', '\ud800'),
)
const tenants = fc.oneof(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/), hostile)
const pathPiece = fc.constantFrom('v1', '{{fields.a}}', 'x-{{fields.b}}', '{{user}}', '{{fields.a}}{{fields.b}}', '{tenant}', 'odata')
const queryPiece = fc.constantFrom('k={{fields.a}}', '$format=json', 'u={{user}}', '{{fields.b}}={{fields.a}}', 't={{tenant}}')
const templates = fc.record({
  host: fc.constantFrom('api.example.com', 'api.example.com:8443', '{tenant}.example.com', '{{tenant}}.partner.example:444'),
  path: fc.array(pathPiece, { maxLength: 5 }),
  query: fc.array(queryPiece, { maxLength: 3 }),
})

describe('property: a filled URL keeps its configured origin', () => {
  it('scheme, host and port come from the template and a DNS-label tenant only; literal path prefix and query names stay', () => {
    fc.assert(
      fc.property(templates, tenants, hostile, hostile, hostile, (t, tenant, a, b, user) => {
        const source = `https://${t.host}/${t.path.join('/')}${t.query.length > 0 ? `?${t.query.join('&')}` : ''}`
        const r = fill(source, { tenant, user, fields: { a, b } })
        if (!('url' in r)) return // refused or missing: nothing is dialled
        const expected = new URL(`https://${t.host.replace(/\{\{?tenant\}\}?/, tenant)}/`)
        const u = new URL(r.url)
        expect(u.origin).toBe(expected.origin)
        expect([u.username, u.password, u.hash]).toEqual(['', '', ''])
        const literalPrefix = `/${t.path.join('/')}`.split('{')[0] as string
        expect(u.pathname.startsWith(literalPrefix.slice(0, literalPrefix.lastIndexOf('/') + 1))).toBe(true)
        expect(u.pathname.split('/').length).toBe(Math.max(1, t.path.length) + 1)
        const names = t.query.map((q) => q.split('=')[0] as string)
        expect([...u.searchParams.keys()]).toEqual(names.map((n) => (n === '{{fields.b}}' ? b : n)))
        if (t.query.includes('k={{fields.a}}')) expect(u.searchParams.get('k')).toBe(a)
      }),
      { seed: 1616, numRuns: 3000 },
    )
  })

  // Specification written apart from the code: how backends read a path (destination-cases.ts).
  const SEGMENT_TEMPLATES = [
    { source: 'https://api.example.com/base/{{fields.a}}/end', literal: (a: string, _b: string) => a },
    { source: 'https://api.example.com/base/x-{{fields.a}}/end', literal: (a: string, _b: string) => `x-${a}` },
    { source: 'https://api.example.com/base/{{fields.a}}{{fields.b}}/end', literal: (a: string, b: string) => a + b },
    { source: 'https://api.example.com/base/{{fields.a}}.json/end?q=1', literal: (a: string, _b: string) => `${a}.json` },
  ] as const
  const DOT = /^\.\.?(;.*)?$/
  it('any value: refused, or its segment stays one ordinary segment however a backend decodes (8,000 cases)', () => {
    fc.assert(
      fc.property(fc.oneof(fieldValueArb, hostile), fc.oneof(fieldValueArb, fc.constantFrom('x', '.', 'e.', '%2e', '')), fc.constantFrom(...SEGMENT_TEMPLATES), (a, b, t) => {
        const r = fill(t.source, { fields: { a, b } })
        if (ORDINARY_VALUE.test(a) && ORDINARY_VALUE.test(b)) expect(r, `${JSON.stringify([a, b])} is ordinary`).toHaveProperty('url')
        if (!('url' in r)) {
          expect(refusal(r)).toMatch(/^(fields\.[ab] is not valid Unicode|the path segment holding fields\.a(, fields\.b)? )/)
          for (const v of [a, b]) if (v.length >= 6) expect(refusal(r)).not.toContain(v)
          return
        }
        for (const reading of backendReadings(r.url)) {
          const m = /^\/base\/([^/]+)\/end$/.exec(reading)
          expect(m, `${JSON.stringify([a, b])} → ${r.url} read as ${reading}`).not.toBeNull()
          expect(DOT.test((m as RegExpExecArray)[1] as string), `${r.url} read as ${reading}`).toBe(false)
        }
        // A backend that trims the segment reads the same text.
        for (const text of segmentTexts(new URL(r.url).pathname.split('/')[2] as string)) expect(text.trim(), r.url).toBe(text)
        expect(decodeURIComponent(new URL(r.url).pathname.split('/')[2] as string)).toBe(t.literal(a, b))
      }),
      { seed: 1617, numRuns: 8000 },
    )
  })
})
