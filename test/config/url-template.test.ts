/**
 * Profile URL templates: where placeholders may sit, how each value is encoded for the part
 * it lands in, and — as properties over generated values — that a filled URL keeps the
 * configured origin, path prefix and query names whatever the user's fields, the user id
 * or the tenant say.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fillUrlTemplate, parseUrlTemplate, type FilledUrl, type UrlScope } from '../../src/config/index.js'

const fill = (source: string, scope: Partial<UrlScope> = {}): FilledUrl => fillUrlTemplate(parseUrlTemplate(source), { fields: {}, ...scope })
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
    const r = fill('https://api.example.com/o/{{fields.org}}/x?who={{user}}&t={{tenant}}', { tenant: 'acme', user: 'a&b=c #1', fields: { org: 'a/b?c#d@e%f é' } })
    expect(urlOf(r)).toBe('https://api.example.com/o/a%2Fb%3Fc%23d%40e%25f%20%C3%A9/x?who=a%26b%3Dc%20%231&t=acme')
    const u = new URL(urlOf(r))
    expect([u.pathname.split('/')[2], u.searchParams.get('who')]).toEqual(['a%2Fb%3Fc%23d%40e%25f%20%C3%A9', 'a&b=c #1'])
  })
  it('names a missing value, refuses a non-DNS tenant in the host, dot segments and lone surrogates', () => {
    expect(fill('https://api.example.com/{{fields.org}}')).toEqual({ missing: 'fields.org' })
    expect(fill('https://api.example.com/{{user}}')).toEqual({ missing: 'user' })
    expect(fill('https://{tenant}.example.com/')).toEqual({ missing: 'tenant' })
    expect(fill('https://{tenant}.example.com/', { tenant: 'evil.com/' })).toEqual({ refused: 'tenant is not a DNS label' })
    expect(fill('https://api.example.com/a/{{fields.x}}/b', { fields: { x: '..' } })).toEqual({ refused: 'a value may not make the path segment ".."' })
    expect(fill('https://api.example.com/a/{{fields.x}}{{fields.x}}', { fields: { x: '.' } })).toEqual({ refused: 'a value may not make the path segment ".."' })
    expect(urlOf(fill('https://api.example.com/a/v{{fields.x}}', { fields: { x: '..' } }))).toBe('https://api.example.com/a/v..')
    expect(fill('https://api.example.com/{{fields.x}}', { fields: { x: 'a\ud800' } })).toEqual({ refused: 'fields.x is not valid Unicode' })
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

  it('a field value that is a whole path segment decodes back to itself', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const r = fill('https://api.example.com/base/{{fields.a}}/end', { fields: { a: v } })
        if (!('url' in r)) {
          expect(/^\.{1,2}$/.test(v) || v.isWellFormed() === false).toBe(true)
          return
        }
        const seg = new URL(r.url).pathname.split('/')[2] as string
        expect(decodeURIComponent(seg)).toBe(v)
      }),
      { seed: 1617, numRuns: 3000 },
    )
  })
})
