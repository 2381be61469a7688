/**
 * A JOSE header or claims set naming a member twice is refused, whichever member, wherever the
 * repeat stands, however it is spelled (`"alg"` and `"\u0061lg"` are one name) and whether the
 * two values agree: JSON.parse keeps the last (`{"alg":"none","alg":"HS256"}` was an HS256 JWT,
 * two `sub` the last one's), python3-jwcrypto keeps the last, other readers the first or refuse.
 * Generated JWTs (header, claims set, a nested claim), JWEs (protected header) and JWTs inside
 * JWEs, at the exchange and as the bearer used directly; without a repeat each is accepted.
 */
import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileGatewayKeys, resolveBearer, verifyCallerAssertion } from '../../src/callers/index.js'
import { GatewayError } from '../../src/errors.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { AUDIENCE, HS_SECRET, NOW_SEC, nowMs, rsaPair, testApps } from '../support/callers-fixtures.js'

const gatewayKey = rsaPair()
const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gatewayKey.privatePem }])
const apps = testApps(rsaPair())
const opts = () => ({ apps, keys, clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })

type Member = readonly [name: string, valueText: string]
const b64 = (text: string): string => Buffer.from(text).toString('base64url')

/** A member name as JSON text, some of its letters written as \u escapes (`escapes` picks which). */
function spelled(name: string, escapes: readonly boolean[]): string {
  return `"${[...name].map((c, i) => (escapes[i % escapes.length] === true ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')}"`
}

/** Where the repeat goes: which JSON object, and the members it holds without it. */
const PLACES = {
  'JWS header': [['alg', '"HS256"'], ['typ', '"JWT"']],
  'claims set': [['iss', '"hs-app"'], ['aud', `"${AUDIENCE}"`], ['sub', '"user-1"'], ['iat', String(NOW_SEC - 10)], ['exp', String(NOW_SEC + 600)], ['acct', '"42"']],
  'nested claim': [['n', '"1"'], ['m', '"2"']],
  'JWE header': [['alg', '"RSA-OAEP"'], ['enc', '"A256GCM"'], ['kid', '"k1"'], ['cty', '"JWT"']],
} as const satisfies Record<string, readonly Member[]>
type Place = keyof typeof PLACES

/** The object's text with member `at` given again (as `again`, spelled with `escapes`) at position `to`; `at` undefined: as it is. */
function objectText(members: readonly Member[], repeat: { at: number; to: number; again: string; escapes: boolean[] } | undefined): string {
  const parts = members.map(([n, v]) => `${JSON.stringify(n)}:${v}`)
  if (repeat) {
    const [name] = members[repeat.at % members.length] as Member
    parts.splice(repeat.to % (parts.length + 1), 0, `${spelled(name, repeat.escapes)}:${repeat.again}`)
  }
  return `{${parts.join(',')}}`
}

function hs256(headerText: string, claimsText: string): string {
  const input = `${b64(headerText)}.${b64(claimsText)}`
  return `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`
}

/** A compact JWE (RSA-OAEP, A256GCM) of `plaintext` under protected header text `headerText`, made by hand so the header can repeat a member. */
function jwe(headerText: string, plaintext: string): string {
  const cek = randomBytes(32)
  const iv = randomBytes(12)
  const protectedHeader = b64(headerText)
  const cipher = createCipheriv('aes-256-gcm', cek, iv).setAAD(Buffer.from(protectedHeader))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const ek = publicEncrypt({ key: gatewayKey.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cek)
  return [protectedHeader, ek.toString('base64url'), iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

/** The assertion with the repeat at `place` (a JWT, or a JWE of one when `inJwe`). */
function assertion(place: Place, repeat: Parameters<typeof objectText>[1], inJwe: boolean): string {
  const at = (p: Place) => objectText(PLACES[p], p === place ? repeat : undefined)
  const claims = at('claims set').replace(/}$/, `,"nested":${at('nested claim')}}`)
  const jwt = hs256(at('JWS header'), claims)
  return inJwe || place === 'JWE header' ? jwe(at('JWE header'), jwt) : jwt
}

const WHAT: Record<Place, string> = {
  'JWS header': 'error verifying the jwt: its header names',
  'claims set': 'error verifying the jwt: its claims set names',
  'nested claim': 'error verifying the jwt: its claims set names',
  'JWE header': 'error decrypting the jwe: its protected header names',
}
const RFC: Record<Place, string> = { 'JWS header': 'RFC 7515', 'claims set': 'RFC 7519', 'nested claim': 'RFC 7519', 'JWE header': 'RFC 7516' }

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(() => 'accepted', (e: unknown) => (e instanceof GatewayError ? `${e.reason} ${e.message}` : `unexpected ${String(e)}`))

describe('repeated member names (property, seeded)', () => {
  it('refused naming the member exactly when one object names it twice; accepted otherwise', async () => {
    const repeat = fc.option(fc.record({ at: fc.nat(), to: fc.nat(), again: fc.constantFrom('"none"', '"HS256"', '"admin"', '1', 'null', '"user-1"'), escapes: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }) }), { nil: undefined })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...(Object.keys(PLACES) as Place[])), repeat, fc.boolean(), async (place, rep, inJwe) => {
        const token = assertion(place, rep, inJwe)
        const got = await outcome(verifyCallerAssertion(token, opts()))
        if (rep === undefined) {
          expect(got).toBe('accepted')
          return
        }
        const [name] = PLACES[place][rep.at % PLACES[place].length] as Member
        expect(got).toBe(`caller_credentials_invalid ${WHAT[place]} "${name}" more than once: JSON readers differ on which one counts (${RFC[place]}, section 4); send each member once`)
        // The same JWT used directly as the bearer is refused the same way.
        if (token.split('.').length !== 3) return
        expect(await outcome(resolveBearer(token, { store: new CallersMemoryStore(nowMs) }, opts()))).toBe(got)
      }),
      { seed: 0x7515, numRuns: 300 },
    )
  })

  it('pins the two examples: an "alg" of none then HS256, and two "sub"', async () => {
    const header = hs256('{"alg":"none","alg":"HS256"}', objectText(PLACES['claims set'], undefined))
    const subs = hs256('{"alg":"HS256"}', objectText(PLACES['claims set'], { at: 2, to: 0, again: '"admin"', escapes: [false] }))
    expect([await outcome(verifyCallerAssertion(header, opts())), await outcome(verifyCallerAssertion(subs, opts()))]).toEqual([
      'caller_credentials_invalid error verifying the jwt: its header names "alg" more than once: JSON readers differ on which one counts (RFC 7515, section 4); send each member once',
      'caller_credentials_invalid error verifying the jwt: its claims set names "sub" more than once: JSON readers differ on which one counts (RFC 7519, section 4); send each member once',
    ])
  })
})
