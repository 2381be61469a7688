/**
 * The signer's shortcuts against what they stand for, over generated input: the query check
 * that skips judging and encoding (isSentAsIs) against unverifiableOctets and
 * encodeRawCharacters, pooled nonces against reuse, a token's prepared protocol parameters
 * (prepared-token.ts) against the general way of signing, the signature's encoding against encodeURIComponent,
 * and the origin's encoding kept for the last scheme and host against percentEncode of the joined origin.
 */
import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodedSignature } from '../../src/oauth1/placement.js'
import { lastOriginEncoding, percentEncode } from '../../src/oauth1/percent-encode.js'
import { createSigner, encodeRawCharacters, isSentAsIs, unverifiableOctets, type Placement, type SignatureMethod, type SignatureToSend, type SignerStatics, type SignResult } from '../../src/oauth1/index.js'

// Every character class the two readers treat apart: sent raw, "%" and escapes, raw ASCII they encode, non-ASCII.
const queryText = fc
  .array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...'aZ09-._~!$&\'()*+,;=:@/?') }, { weight: 1, arbitrary: fc.constantFrom('%', '%41', '%zz', '%C3%A9', '%E9', ' ', '[', ']', '"', '\\', '^', '`', '{', '|', '}', '<', '>', '#', '\x00', '\x7f', 'é', '\xff') }), { maxLength: 30 })
  .map((parts) => parts.join(''))

describe('isSentAsIs', () => {
  it('holds only where unverifiableOctets finds nothing and encodeRawCharacters keeps the text, and on most plain queries (5,000 texts)', () => {
    let plain = 0
    fc.assert(
      fc.property(queryText, (text) => {
        if (!isSentAsIs(text)) return
        plain++
        const bytes = Buffer.from(text, 'latin1')
        expect(unverifiableOctets(bytes)).toBeUndefined()
        expect(unverifiableOctets(bytes, 'application/x-www-form-urlencoded; charset=iso-8859-1')).toBeUndefined()
        expect(encodeRawCharacters(bytes)).toBe(bytes)
      }),
      { seed: 3986, numRuns: 5_000 },
    )
    expect(plain).toBeGreaterThan(500)
  })

  it('is false for any text holding a "%", a raw character the gateway encodes or a non-ASCII one', () => {
    for (const text of ['a=%41', 'a=%', 'a b', 'ids[]=1', 'q="x"', 'é', 'a=1#', '\x00']) expect(isSentAsIs(text)).toBe(false)
    expect(isSentAsIs("?a=1&b=x.y~z-_&c=!$'()*+,;:@/?")).toBe(true)
  })
})

describe('generated nonces', () => {
  it('are 24 hex digits and never repeat, across several refills of the random pool (2,000 signatures)', () => {
    const signer = createSigner({ consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', placement: 'header' })
    const seen = new Set<string>()
    for (let i = 0; i < 2_000; i++) {
      const nonce = signer.sign({ method: 'GET', url: 'https://api.example.com/' }).oauthParams.oauth_nonce as string
      expect(nonce).toMatch(/^[0-9a-f]{24}$/)
      seen.add(nonce)
    }
    expect(seen.size).toBe(2_000)
  })
})

describe('prepared protocol parameters (a token signing again)', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const text = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._~-]{0,10}$/),
    fc.array(fc.constantFrom('a', 'Z', '0', '-', '~', ' ', '+', '%', '%20', '%zz', '&', '=', '!', '*', '"', '\\', 'ä', '😀', 'oauth_', '\ud800'), { maxLength: 6 }).map((a) => a.join('')),
  )
  // Names around the protocol parameters' (before, between, equal to and after them in byte order).
  const wellFormed = text.filter((t) => !t.includes('\ud800'))
  const name = fc.oneof(wellFormed, fc.constantFrom('a', 'oauth_a', 'oauth_nonce', 'oauth_nonce', 'oauth_timestamp', 'oauth_token', 'oauth_signature', 'oauth_zz', 'z', 'realm'))
  const query = fc.array(fc.tuple(name, fc.option(wellFormed, { nil: undefined })), { maxLength: 30 }).map((pairs) => pairs.map(([n, v]) => (v === undefined ? encodeURIComponent(n) : `${n.replaceAll('&', '%26')}=${encodeURIComponent(v)}`)).join('&'))
  const statics: fc.Arbitrary<SignerStatics> = fc
    .record({
      consumerKey: text,
      consumerSecret: text,
      signatureMethod: fc.constantFrom<SignatureMethod>('HMAC-SHA1', 'HMAC-SHA256', 'PLAINTEXT', 'RSA-SHA1'),
      realm: fc.option(fc.oneof(text, fc.constant('a"b\\c\x00')), { nil: undefined }),
      includeVersion: fc.boolean(),
      bodyHash: fc.boolean(),
      placement: fc.constantFrom<Placement>('header', 'header', 'query', 'body'),
    })
    .map((s) => (s.signatureMethod.startsWith('RSA-') ? { ...s, privateKey } : s))
  const request = fc.record({
    method: fc.constantFrom('GET', 'post'),
    url: fc.tuple(fc.constantFrom('https://api.example.com', 'http://Example.COM:8080'), fc.constantFrom('/', '/v1/a%20b', '/ä'), query).map(([o, p, q]) => `${o}${p}${q === '' ? '' : '?'}${q}`),
    contentType: fc.option(fc.constantFrom('application/x-www-form-urlencoded', 'application/json'), { nil: undefined }),
    body: fc.option(fc.constantFrom('b=1&oauth_nonce=2', '{"a":1}'), { nil: undefined }),
    // Mostly the static token; now and then another, or none.
    token: fc.oneof({ weight: 6, arbitrary: fc.constant('static token/+') }, { weight: 1, arbitrary: fc.option(text, { nil: undefined }) }),
    tokenSecret: fc.option(text, { nil: undefined }),
    nonce: fc.option(text, { nil: undefined }),
    timestamp: fc.option(fc.oneof(fc.constantFrom('1318622958', '1 2', '+1'), text), { nil: undefined }),
  })
  const outcome = (run: () => SignResult): unknown => {
    try {
      const r = run()
      return { ...r, queryUrl: r.queryUrl?.href, oauthParams: { order: Object.keys(r.oauthParams).join(','), frozen: Object.isFrozen(r.oauthParams), ...r.oauthParams } }
    } catch (err) {
      return `${(err as Error).constructor.name}: ${(err as Error).message}`
    }
  }

  /** What is sent (all the proxy reads), or the error. */
  const sentOf = (run: () => SignatureToSend): unknown => {
    try {
      const r = run()
      return { authorizationHeader: r.authorizationHeader, queryUrl: r.queryUrl?.href, body: r.body }
    } catch (err) {
      return `${(err as Error).constructor.name}: ${(err as Error).message}`
    }
  }

  /**
   * Signs each profile's requests the prepared way and the general way (`createSigner(statics, false)`): the same results and errors,
   * and the same sent by a third signer asked only what is sent (the proxy's `signToSend`); how many the static token signed.
   */
  const againstGeneral = (requests: typeof request, perProfile: number, seed: number, numRuns: number): number => {
    let prepared = 0
    fc.assert(
      fc.property(statics, fc.array(requests, { minLength: perProfile, maxLength: perProfile }), (s, rs) => {
        const fast = createSigner(s)
        const general = createSigner(s, false)
        const sending = createSigner(s)
        for (const r of rs) {
          const ours = outcome(() => fast.sign(r))
          // A generated timestamp and nonce are given to the general way as the prepared one made them.
          const made = typeof ours === 'string' ? r : { ...r, timestamp: r.timestamp ?? (ours as SignResult).oauthParams.oauth_timestamp, nonce: r.nonce ?? (ours as SignResult).oauthParams.oauth_nonce }
          expect(ours).toEqual(outcome(() => general.sign(made)))
          expect(sentOf(() => sending.signToSend(made))).toEqual(sentOf(() => general.sign(made)))
          if (r.token === 'static token/+' && typeof ours !== 'string') prepared++
        }
      }),
      { seed, numRuns },
    )
    return prepared
  }

  it('sign as the general way does, results and errors, byte for byte (1,500 profiles × 10 requests)', () => {
    expect(againstGeneral(request, 10, 2104, 1_500)).toBeGreaterThan(5_000)
  })

  // The normalized parameters of a request without a query are the prepared text around the two values.
  it('sign a request without a query as the general way does (1,000 profiles × 6 requests)', () => {
    expect(againstGeneral(request.map((r) => ({ ...r, url: r.url.replace(/\?.*$/, '') })), 6, 5849, 1_000)).toBeGreaterThan(2_000)
  })
})

describe("oauth_signature's encoding", () => {
  it('is encodeURIComponent of the base64 signature, for every method but PLAINTEXT (5,000 texts)', () => {
    const base64 = fc.oneof(fc.uint8Array({ maxLength: 70 }).map((b) => Buffer.from(b).toString('base64')), fc.stringMatching(/^[A-Za-z0-9+/=]{0,40}$/))
    fc.assert(
      fc.property(base64, fc.constantFrom<SignatureMethod>('HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512', 'RSA-SHA1', 'RSA-SHA256'), (text, method) => {
        expect(encodedSignature(method, text)).toBe(encodeURIComponent(text))
      }),
      { seed: 4648, numRuns: 5_000 },
    )
  })
})

describe("the signer's origin encoding, kept for the last scheme and host", () => {
  it('is percentEncode of the joined origin after any sequence of parts, repeats and lone surrogates included (2,000 sequences)', () => {
    // Few values, so that parts repeat (the kept encoding is used) and change (it is made again).
    const part = fc.constantFrom('https:', 'http:', 'HTTPS:', 'h.test', 'h.test:8443', 'H.test', 'xn--d-hia.test', 'é.test', '\ud800.test', '', 'a b')
    fc.assert(
      fc.property(fc.array(fc.tuple(part, part), { minLength: 1, maxLength: 12 }), (pairs) => {
        const kept = lastOriginEncoding()
        const outcome = (run: () => string): string => {
          try {
            return run()
          } catch (e) {
            return `throws ${(e as Error).name}: ${(e as Error).message}`
          }
        }
        for (const [protocol, host] of pairs) {
          // Built apart each time: equal text in another string object, as a parsed URL's getters give it.
          const expected = outcome(() => percentEncode(`${protocol}//${host}`))
          expect(outcome(() => kept(`${protocol} `.slice(0, -1), host))).toEqual(expected)
          expect(outcome(() => kept(protocol, host))).toEqual(expected)
        }
      }),
      { seed: 3412, numRuns: 2_000 },
    )
  })
})
