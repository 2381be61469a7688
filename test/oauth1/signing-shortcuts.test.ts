/**
 * The signer's shortcuts against what they stand for, over generated input: the HMAC made from
 * a key's padded blocks (keyedHmac) against createHmac, the query check that skips judging and
 * encoding (isSentAsIs) against unverifiableOctets and encodeRawCharacters, and pooled nonces
 * against reuse.
 */
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { keyedHmac, type HmacDigest } from '../../src/oauth1/hmac.js'
import { createSigner, encodeRawCharacters, isSentAsIs, unverifiableOctets } from '../../src/oauth1/index.js'

const digests: HmacDigest[] = ['sha1', 'sha256', 'sha512']
// Keys around both block sizes (64, 128 bytes: longer ones are hashed first), some not ASCII.
const key = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom('', 'a'.repeat(64), 'a'.repeat(65), 'b'.repeat(128), 'b'.repeat(129), 'ä'.repeat(40)))
// Messages from empty to past what the scratch buffer takes (then createHmac signs), lone surrogates too.
const message = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 400 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', 'x\udc00y', '😀') },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '€', '😀'), fc.integer({ min: 1_000, max: 9_000 })).map(([c, n]) => c.repeat(n)) },
)

const reference = (digest: HmacDigest, k: string, m: string): string => createHmac(digest, k).update(m, 'utf8').digest('base64')

describe('keyedHmac', () => {
  it('gives createHmac\'s bytes for every key and message, one key signing many messages in turn with another (2,000 keys)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...digests), key, key, fc.array(message, { minLength: 1, maxLength: 6 }), (digest, k1, k2, messages) => {
        const one = keyedHmac(digest, k1)
        const other = keyedHmac(digest, k2)
        // Longer and shorter messages alternate over the shared scratch buffer, and the keys take turns.
        for (const m of messages) {
          expect(one(m)).toBe(reference(digest, k1, m))
          expect(other(m.slice(1))).toBe(reference(digest, k2, m.slice(1)))
        }
      }),
      { seed: 2104, numRuns: 2_000 },
    )
  })
})

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
