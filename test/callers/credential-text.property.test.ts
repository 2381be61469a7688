/**
 * credential-text.ts, where every outbound text is judged: a request's own credential (any
 * printable ASCII token of 16 characters or more: a JWT, an earlier release's bearer) is found in
 * any text holding a copy of it in any letter case, and only then (no bearer in the text); a gateway
 * bearer in a URL is found as written, percent-decoded once, and after a delimiter encoded any
 * number of times (`%252F<bearer>`, which one decoding leaves glued to the "F"); so is the own credential
 * with its characters encoded once, twice or a mix. Before, the own credential was found only as sent,
 * a bearer after a twice-encoded delimiter was missed, and so was an own credential encoded twice.
 * Several own credentials of any lengths are judged exactly as "any of them in any case, or a bearer"
 * (a text shorter than the shortest is not lower-cased: the answer must not change).
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

describe('several own credentials of different lengths', () => {
  it('a text is judged as "any of them in any case, or a bearer", whatever the order and however short the text (10,000 runs)', () => {
    const piece = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('İ', 'K', 'ſ'))
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 4 }), fc.array(piece, { maxLength: 3 }), fc.nat(3), folding, (tokens, pieces, which, flips) => {
        const t = tokens[which % tokens.length] as string
        // Either a whole copy among the pieces, or a prefix of one (a text shorter than it).
        const copy = flips[0] === true ? folded(t, flips) : folded(t, flips).slice(0, 15)
        const text = [...pieces, copy].sort().join('')
        const expected = tokens.some((k) => text.toLowerCase().includes(k.toLowerCase())) || carriesGatewayBearer(text)
        expect(carriesCredential(text, credentialsToLookFor(tokens))).toBe(expected)
      }),
      { seed: 0x5e7, numRuns: 10_000 },
    )
  })
})

describe('the own credential in a URL', () => {
  it('each character as written, encoded once or twice, hex in either case, is found (5,000 runs)', () => {
    const way = fc.array(fc.record({ times: fc.constantFrom(0, 1, 2), upperHex: fc.boolean() }), { minLength: 1, maxLength: 16 })
    fc.assert(
      // As JWTs and bearers are spelled (a token holding `%` and hex digits is read as an escape of its own).
      fc.property(fc.stringMatching(/^[A-Za-z0-9._~-]{16,60}$/), folding, way, (t, flips, ways) => {
        const written = [...folded(t, flips)].map((c, i) => {
          const w = ways[i % ways.length] as { times: number; upperHex: boolean }
          const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
          const escape = w.upperHex ? hex.toUpperCase() : hex
          return w.times === 0 && /[A-Za-z0-9]/.test(c) ? c : w.times === 2 ? `%25${escape}` : `%${escape}`
        })
        expect(urlCarriesCredential(`https://api.test/x?t=${written.join('')}`, credentialsToLookFor([t]))).toBe(true)
      }),
      { seed: 0x2552, numRuns: 5_000 },
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

describe('any own credential text in a URL, `%` in it or not', () => {
  // Printable ASCII with `%`, `2`, `5` and hex digits often: a token holding `%25` or `%41` as text.
  const percentToken = fc.array(fc.oneof(fc.constantFrom('%', '%25', '%2', '25', '5', '%41', 'a', 'F'), fc.stringMatching(/^[!-~]$/)), { minLength: 16, maxLength: 40 }).map((p) => p.join('').slice(0, 60)).filter((t) => t.length >= 16)
  /** One encoding pass as a real encoder makes it: `%` always escaped, any other character as `escapeAt` says, hex in either case. */
  const encodedOnce = (s: string, escapeAt: readonly boolean[], upperHex: readonly boolean[]): string =>
    [...s].map((c, i) => {
      if (c !== '%' && escapeAt[i % escapeAt.length] !== true) return c
      const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
      return `%${upperHex[i % upperHex.length] === true ? hex.toUpperCase() : hex}`
    }).join('')
  const flags = fc.array(fc.boolean(), { minLength: 1, maxLength: 17 })

  it('encoded once or twice by an encoder that escapes `%` and any other characters, in any case, is found (10,000 runs)', () => {
    fc.assert(
      fc.property(percentToken, folding, fc.constantFrom(1, 2), flags, flags, flags, flags, (t, flips, times, escape1, hex1, escape2, hex2) => {
        const once = encodedOnce(folded(t, flips), escape1, hex1)
        const value = times === 1 ? once : encodedOnce(once, escape2, hex2)
        expect(urlCarriesCredential(`https://api.test/x?t=${value}&y=1`, credentialsToLookFor([t]))).toBe(true)
      }),
      { seed: 0x2525, numRuns: 10_000 },
    )
  })

  it('wherever a reader decoding the URL none, one or two times would read it (any text around it), it is found (10,000 runs)', () => {
    const around = fc.array(fc.constantFrom('%', '25', '2', '5', '4', '1', 'a', '/', '?', '%25'), { maxLength: 6 }).map((p) => p.join(''))
    const decoded = (s: string): string => s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    fc.assert(
      fc.property(percentToken, folding, fc.constantFrom(0, 1, 2), flags, flags, flags, flags, around, around, (t, flips, times, escape1, hex1, escape2, hex2, before, after) => {
        let value = folded(t, flips)
        if (times >= 1) value = encodedOnce(value, escape1, hex1)
        if (times === 2) value = encodedOnce(value, escape2, hex2)
        const url = `https://api.test/x?t=${before}${value}${after}`
        const readings = [url, decoded(url), decoded(decoded(url))]
        fc.pre(readings.some((r) => r.toLowerCase().includes(t.toLowerCase())))
        expect(urlCarriesCredential(url, credentialsToLookFor([t]))).toBe(true)
      }),
      { seed: 0x4125, numRuns: 10_000 },
    )
  })
})
