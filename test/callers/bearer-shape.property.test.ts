/**
 * The gateway's bearers are known by their spelling (bearer-shape.ts): what issueBearer hands out
 * is 43 base64url characters, as earlier releases' were (they accept it: they match
 * /^[A-Za-z0-9_-]{43}$/ and look up the hash of the whole token), and carriesGatewayBearer finds
 * it as a delimited run of exactly 43 such characters anywhere in a text. Random 43-character
 * strings, and a bearer with any character changed, are not found. Before, bearers were 32 random
 * bytes and nothing could tell one from any other 43 characters.
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

  it('a bearer with any character changed is not one; stray padding bits in its last character are the same bytes (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.nat(42), fc.nat(63), (at, v) => {
        const token = newBearerToken()
        const changed = token.slice(0, at) + (ALPHABET[v] as string) + token.slice(at + 1)
        const sameBytes = at === 42 && ALPHABET.indexOf(token[42] as string) >> 2 === v >> 2
        expect(carriesGatewayBearer(changed)).toBe(changed === token || sameBytes)
      }),
      { seed: 0xc4a9, numRuns: 5_000 },
    )
  })

  it('a run of other than 43 base64url characters is no bearer, even one holding a bearer (the rule that keeps the scan linear; 5,000 runs)', () => {
    fc.assert(
      fc.property(base64urlRun(0, 30), base64urlRun(0, 30), (b, a) => {
        fc.pre(b.length + a.length > 0)
        expect(carriesGatewayBearer(`${b}${newBearerToken()}${a}`)).toBe(false)
      }),
      { seed: 0x11e4, numRuns: 5_000 },
    )
  })

  it('long texts: a 1 MiB run, and 64 KiB of 43-character runs, are read to the end and hold no bearer', () => {
    expect(carriesGatewayBearer('A'.repeat(1 << 20))).toBe(false)
    const runs = Array.from({ length: (1 << 16) / 44 }, (_, i) => ALPHABET.slice(i % 21, (i % 21) + 43)).join(';')
    expect(carriesGatewayBearer(runs)).toBe(false)
    expect(carriesGatewayBearer(`${runs};${newBearerToken()}`)).toBe(true)
  })
})
