import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  baseStringUri,
  collectParameters,
  normalizeParameters,
  parseForm,
  signatureBaseString,
  type Param,
} from '../../src/oauth1/index.js'

// Source for this block: RFC 5849 §3.4.1.1 (String Construction), §3.4.1.3.1 (Parameter
// Sources) and §3.4.1.3.2 (Parameters Normalization): the request
//   POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b HTTP/1.1   Host: example.com
//   Content-Type: application/x-www-form-urlencoded
//   Authorization: OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", …
//   c2&a3=2+q
// Text read from https://www.rfc-editor.org/rfc/rfc5849 (copy in thephpleague/oauth1-client rfc5849.txt).
const RFC_3_4_1 = {
  url: 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b',
  contentType: 'application/x-www-form-urlencoded',
  body: 'c2&a3=2+q',
  oauthParams: {
    realm: 'Example',
    oauth_consumer_key: '9djdj82h48djs9d2',
    oauth_token: 'kkk9d7dh3k39sjv7',
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: '137131201',
    oauth_nonce: '7d8f3e4a',
    oauth_signature: 'bYT5CMsGcbgUdFHObYMEfcx6bsw=',
  },
}

describe('RFC 5849 §3.4.1 example', () => {
  it('§3.4.1.3.1: collects the fully decoded parameters of the table, in source order', () => {
    expect(collectParameters(RFC_3_4_1)).toEqual([
      ['b5', '=%3D'],
      ['a3', 'a'],
      ['c@', ''],
      ['a2', 'r b'],
      ['oauth_consumer_key', '9djdj82h48djs9d2'],
      ['oauth_token', 'kkk9d7dh3k39sjv7'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131201'],
      ['oauth_nonce', '7d8f3e4a'],
      ['c2', ''],
      ['a3', '2 q'],
    ])
  })

  it('§3.4.1.3.2: normalizes to the concatenated string of the RFC', () => {
    expect(normalizeParameters(collectParameters(RFC_3_4_1))).toBe(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2' +
        '&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1' +
        '&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    )
  })

  it('§3.4.1.1: builds the signature base string byte for byte', () => {
    expect(signatureBaseString('POST', RFC_3_4_1.url, collectParameters(RFC_3_4_1))).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q' +
        '%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_' +
        'key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m' +
        'ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk' +
        '9d7dh3k39sjv7',
    )
  })

  it('the body is ignored unless the content type is form-encoded', () => {
    const params = collectParameters({ ...RFC_3_4_1, contentType: 'text/plain' })
    expect(params.some(([name]) => name === 'c2')).toBe(false)
  })
})

describe('baseStringUri (RFC 5849 §3.4.1.2)', () => {
  // Both examples are from RFC 5849 §3.4.1.2.
  it('"GET /r%20v/X?id=123" with Host EXAMPLE.COM:80 → http://example.com/r%20v/X', () => {
    expect(baseStringUri('http://EXAMPLE.COM:80/r%20v/X?id=123')).toBe('http://example.com/r%20v/X')
  })

  it('"GET /?q=1" over HTTPS with Host www.example.net:8080 → https://www.example.net:8080/', () => {
    expect(baseStringUri('https://www.example.net:8080/?q=1')).toBe('https://www.example.net:8080/')
  })

  it('drops 443 for https, keeps 80 for https and 443 for http, drops fragment and userinfo', () => {
    expect(baseStringUri('HTTPS://Api.Example.com:443/v1/x#frag')).toBe('https://api.example.com/v1/x')
    expect(baseStringUri('https://api.example.com:80/')).toBe('https://api.example.com:80/')
    expect(baseStringUri('http://api.example.com:443/')).toBe('http://api.example.com:443/')
    expect(baseStringUri('http://user:pw@api.example.com')).toBe('http://api.example.com/')
  })

  it('keeps the path as sent, including its case and escapes', () => {
    expect(baseStringUri(new URL('http://example.com/A%2fB/c%20d'))).toBe('http://example.com/A%2fB/c%20d')
  })

  it('refuses non-http(s) schemes', () => {
    expect(() => baseStringUri('ftp://example.com/')).toThrow(TypeError)
  })
})

describe('normalizeParameters', () => {
  // Source: OAuth wiki "TestCases", "Normalize Request Parameters (section 9.1.1)",
  // http://wiki.oauth.net/w/page/12238556/TestCases. Input is form-encoded ("+" is a space).
  // (An older wiki revision shows "a=x%20y&a=%21y" for the fourth row, a rendering slip the
  // current page corrects to "a=x%20y&a=x%21y".)
  it.each([
    ['name', 'name='],
    ['a=b', 'a=b'],
    ['a=b&c=d', 'a=b&c=d'],
    ['a=x!y&a=x+y', 'a=x%20y&a=x%21y'],
    ['x!y=a&x=a', 'x=a&x%21y=a'],
  ])('wiki TestCases §9.1.1: %s → %s', (form, normalized) => {
    expect(normalizeParameters(parseForm(form))).toBe(normalized)
  })

  const param = fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 }))

  it('property: order-independent (any shuffle normalizes the same)', () => {
    fc.assert(
      fc.property(
        fc.array(param, { maxLength: 12 }).chain((ps) => fc.tuple(fc.constant(ps), fc.shuffledSubarray(ps, { minLength: ps.length }))),
        ([ps, shuffled]) => {
          expect(normalizeParameters(shuffled)).toBe(normalizeParameters(ps))
        },
      ),
    )
  })

  it('property: keeps every pair, duplicates and empty values included', () => {
    fc.assert(
      fc.property(fc.array(param, { maxLength: 12 }), fc.nat({ max: 3 }), (ps, dup) => {
        const withDupes: Param[] = [...ps, ...ps.slice(0, dup), ['empty', '']]
        const out = normalizeParameters(withDupes)
        expect(out.split('&')).toHaveLength(withDupes.length)
        expect(out.split('&')).toContain('empty=')
      }),
    )
  })

  it('property: output is sorted by encoded name, then encoded value', () => {
    fc.assert(
      fc.property(fc.array(param, { maxLength: 12 }), (ps) => {
        const pairs = normalizeParameters(ps).split('&').filter((p) => p !== '').map((p) => p.split('='))
        for (let i = 1; i < pairs.length; i++) {
          const [n0 = '', v0 = ''] = pairs[i - 1] ?? []
          const [n1 = '', v1 = ''] = pairs[i] ?? []
          expect(n0 < n1 || (n0 === n1 && v0 <= v1)).toBe(true)
        }
      }),
    )
  })
})

describe('signatureBaseString', () => {
  // Source: OAuth wiki "TestCases", "Concatenate Request Elements (section 9.1.2)", second row
  // (the signature parameter is listed as "ignored" and must be left out).
  it('wiki TestCases §9.1.2: POST https://photos.example.net/request_token (PLAINTEXT)', () => {
    const params = parseForm(
      'oauth_version=1.0&oauth_consumer_key=dpf43f3p2l4k3l03&oauth_timestamp=1191242090' +
        '&oauth_nonce=hsu94j3884jdopsl&oauth_signature_method=PLAINTEXT&oauth_signature=ignored',
    )
    const url = 'https://photos.example.net/request_token'
    expect(signatureBaseString('POST', url, collectParameters({ url, oauthParams: Object.fromEntries(params) }))).toBe(
      'POST&https%3A%2F%2Fphotos.example.net%2Frequest_token&oauth_consumer_key%3Ddpf43f3p2l4k3l03' +
        '%26oauth_nonce%3Dhsu94j3884jdopsl%26oauth_signature_method%3DPLAINTEXT' +
        '%26oauth_timestamp%3D1191242090%26oauth_version%3D1.0',
    )
  })

  it('uppercases the method and encodes a custom one (§3.4.1.1 item 1)', () => {
    expect(signatureBaseString('get', 'http://example.com/', [])).toBe('GET&http%3A%2F%2Fexample.com%2F&')
  })

  it('a query field named realm is an ordinary, signed parameter; oauth_signature never is', () => {
    const params = collectParameters({
      url: 'http://example.com/?realm=q&oauth_signature=x',
      oauthParams: { realm: 'header', oauth_signature: 'y', oauth_nonce: 'n' },
    })
    expect(params).toEqual([
      ['realm', 'q'],
      ['oauth_nonce', 'n'],
    ])
  })
})
