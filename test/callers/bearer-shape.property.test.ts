/**
 * The gateway's bearers are known by their spelling (bearer-shape.ts): what issueBearer hands out
 * is 43 base64url characters, as earlier releases' were (they accept it: they match
 * /^[A-Za-z0-9_-]{43}$/ and look up the hash of the whole token), and carriesGatewayBearer finds
 * it anywhere in a text: a delimited run of exactly 43 such characters, or 43 joined to the rest of
 * a longer run by "-" or "_" (`x-<bearer>`, `00-<bearer>-01`), in any letter case (a lower-cased
 * header name, tenant or host name). The tag is over the lower-cased random part and spelled in
 * characters whose case carries nothing, so a case-folded copy gives no offline check of the
 * original's case. Random 43-character strings, and a bearer with any character changed to other
 * than its other case, are not found. Before, bearers were 32 random bytes and nothing could tell
 * one from any other 43 characters; then a tag over the random part as spelled, which a
 * case-folded copy missed and which checked a guess of its case offline.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { issueBearer } from '../../src/callers/index.js'
import { carriesGatewayBearer, newBearerToken } from '../../src/callers/bearer-shape.js'
import type { Store } from '../../src/store/index.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The check of the pinned previous release (src/callers/bearer.ts's OPAQUE): a bearer it accepts. */
const EARLIER_RELEASES_OPAQUE = /^[A-Za-z0-9_-]{43}$/
const delimiter = fc.constantFrom(...' \t=;,:"\'/.+~!{}[]()*%&?#@\\<>|^`$\u00e9\u2028'.split(''))
/** Text around a bearer: anything, ending (before) or starting (after) with a delimiter. */
const before = fc.oneof(fc.constant(''), fc.tuple(fc.string({ maxLength: 20 }), delimiter).map(([t, d]) => t + d))
const after = fc.oneof(fc.constant(''), fc.tuple(delimiter, fc.string({ maxLength: 20 })).map(([d, t]) => d + t))
const base64urlRun = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...ALPHABET.split('')), minLength: min, maxLength: max })

describe('a gateway bearer is known by its spelling', () => {
  it('issued bearers: the earlier releases\' shape, canonical base64url, found alone and between any delimiters (5,000 runs)', () => {
    fc.assert(
      fc.property(before, after, (b, a) => {
        const token = newBearerToken()
        expect(token).toMatch(EARLIER_RELEASES_OPAQUE)
        expect(Buffer.from(token, 'base64url').toString('base64url')).toBe(token)
        expect(carriesGatewayBearer(token)).toBe(true)
        expect(carriesGatewayBearer(`${b}${token}${a}`)).toBe(true)
      }),
      { seed: 0x5ba9e, numRuns: 5_000 },
    )
  })

  it('issueBearer hands out such a bearer, stored under the SHA-256 of the whole token as before', async () => {
    const puts: string[] = []
    const store = { put: (key: string) => void puts.push(key) } as unknown as Store
    const { access_token: token } = await issueBearer({ appId: 'bot', claims: { sub: 'u' }, sub: 'u', isAnonymous: false, exp: Math.floor(Date.now() / 1000) + 60, viaJwe: false }, { store }, 60)
    expect(carriesGatewayBearer(token)).toBe(true)
    expect(puts).toEqual([`bearer:${createHash('sha256').update(token).digest('hex')}`])
  })

  it('random 43-character base64url strings are not bearers, wherever they stand (20,000 runs)', () => {
    fc.assert(
      fc.property(before, base64urlRun(43, 43), after, (b, s, a) => {
        expect(carriesGatewayBearer(`${b}${s}${a}`)).toBe(false)
      }),
      { seed: 0x10041, numRuns: 20_000 },
    )
  })

  it('a bearer with any character changed is not one, unless to its other case; stray padding bits in its last character are the same bytes (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.nat(42), fc.nat(63), (at, v) => {
        const token = newBearerToken()
        const was = token[at] as string
        const now = ALPHABET[v] as string
        const changed = token.slice(0, at) + now + token.slice(at + 1)
        const sameBytes = at === 42 && ALPHABET.indexOf(was.toLowerCase()) >> 2 === ALPHABET.indexOf(now.toLowerCase()) >> 2
        expect(carriesGatewayBearer(changed)).toBe(now.toLowerCase() === was.toLowerCase() || sameBytes)
      }),
      { seed: 0xc4a9, numRuns: 5_000 },
    )
  })

  it('every case variant of a bearer is one (lower-cased, upper-cased, any letters flipped), and its tag is spelled without case (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 43, maxLength: 43 }), fc.constantFrom('lower', 'upper', 'flipped'), before, after, (flips, how, b, a) => {
        const token = newBearerToken()
        const flipped = [...token].map((c, i) => (flips[i] ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('')
        const variant = how === 'lower' ? token.toLowerCase() : how === 'upper' ? token.toUpperCase() : flipped
        expect(carriesGatewayBearer(`${b}${variant}${a}`)).toBe(true)
        // The tag says nothing of the random part's case: a folded copy cannot be checked offline.
        expect(token.slice(32)).toBe(token.slice(32).toLowerCase())
      }),
      { seed: 0xca5e, numRuns: 5_000 },
    )
  })

  it('a bearer joined to a longer run by "-" or "_" on each side it touches is found, in any case; joined by a letter or digit it is not (10,000 runs)', () => {
    const joinedRun = (min: number): fc.Arbitrary<string> => base64urlRun(min, 30)
    fc.assert(
      fc.property(joinedRun(0), fc.constantFrom('-', '_', '--', '-_'), joinedRun(0), fc.constantFrom('-', '_', '__'), fc.boolean(), fc.constantFrom('as issued', 'lower', 'upper'), (b, j1, a, j2, sides, how) => {
        const token = newBearerToken()
        const spelled = how === 'lower' ? token.toLowerCase() : how === 'upper' ? token.toUpperCase() : token
        // Joined before, after or both: `X-<bearer>`, `<bearer>_id`, `00-<bearer>-01`.
        const text = sides ? `${b}${j1}${spelled}${j2}${a}` : `${b}${j1}${spelled}`
        expect(carriesGatewayBearer(text)).toBe(true)
        expect(carriesGatewayBearer(`h: ${text}\r\n`)).toBe(true)
      }),
      { seed: 0x901e, numRuns: 10_000 },
    )
    fc.assert(
      fc.property(base64urlRun(0, 30), fc.constantFrom(...'aZ09'.split('')), fc.boolean(), (other, glue, glueBefore) => {
        const token = newBearerToken()
        // A letter or digit glued on: the 43 characters no longer start or end a window.
        expect(carriesGatewayBearer(glueBefore ? `${other}${glue}${token}` : `${token}${glue}${other}`)).toBe(false)
      }),
      { seed: 0x11e4, numRuns: 5_000 },
    )
  })

  it('hostile runs (only dashes, dashes every 12, 16 or 22 characters, "a-" repeated, 64 KiB) are read to the end and hold no bearer unless one is there', () => {
    const every = (gaps: number[], n: number): string => {
      let s = ''
      while (s.length < n) for (const g of gaps) s += `${'a'.repeat(g - 1)}-`
      return s.slice(0, n)
    }
    for (const text of ['-'.repeat(1 << 16), '_-'.repeat(1 << 15), 'a-'.repeat(1 << 15), every([12, 16, 16], 1 << 16), every([22], 1 << 16), every([44], 1 << 16)]) {
      expect(carriesGatewayBearer(text)).toBe(false)
      expect(carriesGatewayBearer(`${text}-${newBearerToken()}`)).toBe(true)
    }
  })

  it('long texts: a 1 MiB run, and 64 KiB of 43-character runs, are read to the end and hold no bearer', () => {
    expect(carriesGatewayBearer('A'.repeat(1 << 20))).toBe(false)
    const runs = Array.from({ length: (1 << 16) / 44 }, (_, i) => ALPHABET.slice(i % 21, (i % 21) + 43)).join(';')
    expect(carriesGatewayBearer(runs)).toBe(false)
    expect(carriesGatewayBearer(`${runs};${newBearerToken()}`)).toBe(true)
  })
})
