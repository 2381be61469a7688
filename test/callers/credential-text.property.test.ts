/**
 * credential-text.ts, where every outbound text is judged: a request's own credential (any
 * printable ASCII token of 16 characters or more: a JWT, an earlier release's bearer) is found in
 * any text holding a copy of it in any letter case, and only then (no bearer in the text); a gateway
 * bearer in a URL is found as written, percent-decoded once, and after a delimiter encoded any
 * number of times (`%252F<bearer>`, which one decoding leaves glued to the "F"). Before, the own
 * credential was found only as sent, and a bearer after a twice-encoded delimiter was missed.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { carriesCredential, carriesGatewayBearer, credentialsToLookFor, urlCarriesCredential } from '../../src/callers/index.js'

const token = fc.stringMatching(/^[!-~]{16,60}$/)
const text = fc.string({ maxLength: 40 })
const folding = fc.array(fc.boolean(), { minLength: 60, maxLength: 60 })
const folded = (t: string, flips: readonly boolean[]): string => [...t].map((c, i) => (flips[i] === true ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('')

describe('the own credential, in any letter case', () => {
  it('a copy in any case, anywhere in a text, is found (10,000 runs)', () => {
    fc.assert(
      fc.property(token, folding, text, text, (t, flips, before, after) => {
        expect(carriesCredential(`${before}${folded(t, flips)}${after}`, credentialsToLookFor([t]))).toBe(true)
      }),
      { seed: 0xca5e, numRuns: 10_000 },
    )
  })

  it('a text holding no copy in any case (and no bearer) is not refused; shorter tokens are not looked for (10,000 runs)', () => {
    fc.assert(
      fc.property(token, fc.string({ maxLength: 200 }), fc.stringMatching(/^[!-~]{1,15}$/), (t, other, short) => {
        fc.pre(!other.toLowerCase().includes(t.toLowerCase()) && !carriesGatewayBearer(other))
        expect(carriesCredential(other, credentialsToLookFor([t]))).toBe(false)
        expect(carriesCredential(`x${short}y`, credentialsToLookFor([short]))).toBe(carriesGatewayBearer(`x${short}y`))
      }),
      { seed: 0x0e5, numRuns: 10_000 },
    )
  })
})

describe('a bearer in a URL', () => {
  // Bearers starting with two hex digits included: an escape's reading must not take them.
  const bearers = [...Array.from({ length: 3 }, () => newBearerToken()), (() => {
    for (;;) {
      const b = newBearerToken()
      if (/^[0-9A-Fa-f]{2}/.test(b)) return b
    }
  })()]
  it('after or before a delimiter percent-encoded any number of times, in any case, is found (5,000 runs)', () => {
    const delimiter = fc.constantFrom('/', '?', '&', '=', ' ', '.', '%', '+', '"')
    const encodedTimes = (c: string, n: number, lower: boolean): string => {
      let out = `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`
      for (let k = 0; k < n; k++) out = `%25${out.slice(1)}`
      return lower ? out.toLowerCase() : out.toUpperCase()
    }
    fc.assert(
      fc.property(fc.nat(bearers.length - 1), fc.boolean(), delimiter, fc.nat(4), fc.boolean(), fc.boolean(), (i, lower, d, n, lowerHex, after) => {
        const b = lower ? (bearers[i] as string).toLowerCase() : (bearers[i] as string)
        const escape = encodedTimes(d, n, lowerHex)
        const url = after ? `https://idp.test/x?u=ab${b}${escape}cd` : `https://idp.test/x?u=ab${escape}${b}`
        // Glued to "ab"/"cd" on its other side only when that side is the escape's: set it off there.
        const delimited = after ? url.replace(`ab${b}`, `ab/${b}`) : url.replace(`${b}`, `${b}/`)
        expect(urlCarriesCredential(delimited, credentialsToLookFor([]))).toBe(true)
      }),
      { seed: 0x25, numRuns: 5_000 },
    )
  })
})
