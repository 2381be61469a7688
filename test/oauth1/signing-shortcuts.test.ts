/**
 * The signer's shortcuts against what they stand for, over generated input: the query check
 * that skips judging and encoding (isSentAsIs) against unverifiableOctets and
 * encodeRawCharacters, and pooled nonces against reuse.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createSigner, encodeRawCharacters, isSentAsIs, unverifiableOctets } from '../../src/oauth1/index.js'

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
