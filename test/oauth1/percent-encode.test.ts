import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formDecode, isFormContentType, parseForm, percentEncode } from '../../src/oauth1/index.js'

describe('percentEncode', () => {
  // Source: OAuth wiki "TestCases", section "Parameter Encoding (section 5.1)",
  // http://wiki.oauth.net/w/page/12238556/TestCases (U+xxxx = that code point).
  it.each([
    ['abcABC123', 'abcABC123'],
    ['-._~', '-._~'],
    ['%', '%25'],
    ['+', '%2B'],
    ['&=*', '%26%3D%2A'],
    ['\u000A', '%0A'],
    ['\u0020', '%20'],
    ['\u007F', '%7F'],
    ['\u0080', '%C2%80'],
    ['\u3001', '%E3%80%81'],
  ])('wiki TestCases §5.1: %j → %s', (input, encoded) => {
    expect(percentEncode(input)).toBe(encoded)
  })

  // RFC 5849 §3.6: only ALPHA, DIGIT, "-", ".", "_", "~" are left alone; encodeURIComponent's
  // extra safe characters must not leak through.
  it("encodes the characters encodeURIComponent leaves alone: ! ' ( ) *", () => {
    expect(percentEncode("!'()*")).toBe('%21%27%28%29%2A')
  })

  it('rejects a lone surrogate instead of signing something no server can decode', () => {
    expect(() => percentEncode('\uD800')).toThrow(URIError)
  })

  it('property: output is only unreserved characters and uppercase %XX triplets', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(percentEncode(s)).toMatch(/^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/)
      }),
    )
  })

  it('property: formDecode(percentEncode(s)) === s for arbitrary Unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(formDecode(percentEncode(s))).toBe(s)
      }),
    )
  })

  it('property: unreserved strings are unchanged', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9\-._~]*$/), (s) => {
        expect(percentEncode(s)).toBe(s)
      }),
    )
  })
})

describe('formDecode / parseForm', () => {
  // RFC 5849 §3.4.1.3.1: query and form bodies are decoded as W3C HTML 4.0 §17.13.4
  // application/x-www-form-urlencoded, where "+" is a space ("a3=2+q" → "2 q").
  it('decodes + as space and %XX as UTF-8 octets', () => {
    expect(formDecode('2+q')).toBe('2 q')
    expect(formDecode('r%20b')).toBe('r b')
    expect(formDecode('%3D%253D')).toBe('=%3D')
    expect(formDecode('%E3%80%81')).toBe('\u3001')
    expect(formDecode('%e3%80%81')).toBe('\u3001')
  })

  it('keeps a stray % literal, as WHATWG URLSearchParams does', () => {
    expect(formDecode('100%')).toBe('100%')
    expect(formDecode('%zz')).toBe('%zz')
    expect(formDecode('%zz')).toBe(new URLSearchParams('a=%zz').get('a'))
  })

  it('parses the RFC 5849 §3.4.1.3.1 example body "c2&a3=2+q" keeping the empty value', () => {
    expect(parseForm('c2&a3=2+q')).toEqual([
      ['c2', ''],
      ['a3', '2 q'],
    ])
  })

  it('keeps duplicates and empty values, splits on the first "=" only', () => {
    expect(parseForm('a=1&a=&b==x&&c')).toEqual([
      ['a', '1'],
      ['a', ''],
      ['b', '=x'],
      ['c', ''],
    ])
  })

  // Raw non-ASCII is left out: Node's URLSearchParams mis-decodes it next to an invalid
  // UTF-8 escape ("%C3é"), while URL.search never contains raw non-ASCII anyway.
  it('property: agrees with WHATWG URLSearchParams on arbitrary ASCII query strings', () => {
    const chunk = fc.constantFrom('a', 'Z', '0', '=', '&', '+', '%', '%2', '%41', '%e2%82%ac', '%C3', '%C3%A9', ' ', '~')
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 30 }), (chunks) => {
        const q = chunks.join('')
        expect(parseForm(q)).toEqual([...new URLSearchParams(q)])
      }),
    )
  })

  it('property: parses URL.search like URL.searchParams, raw Unicode included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (name, value) => {
        const url = new URL(`http://example.com/?${name}=${value}&x=1`)
        expect(parseForm(url.search.slice(1))).toEqual([...url.searchParams])
      }),
    )
  })

  it('recognises the form content type with parameters and any case', () => {
    expect(isFormContentType('application/x-www-form-urlencoded')).toBe(true)
    expect(isFormContentType('Application/X-WWW-Form-URLEncoded; charset=utf-8')).toBe(true)
    expect(isFormContentType('application/json')).toBe(false)
    expect(isFormContentType(undefined)).toBe(false)
  })
})
