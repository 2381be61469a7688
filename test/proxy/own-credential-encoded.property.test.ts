/**
 * The request's own credential is found in the request target however many times it was
 * percent-encoded: a caller JWT without `jti`, used directly as the credential on
 * Proxy-Authorization (no bearer tag: only the own-credential check can know it), copied into the
 * path or query in any letter case with each character as written, encoded once (`%XX`), encoded
 * twice (`%25XX`) or a mix, hex digits in either case, is refused with 400 credential_in_target and
 * nothing is sent. On the forward proxy and in route mode, against a real mTLS upstream that records
 * every line it receives (the endpoint's address is configured: the target's text never picks what
 * is dialled). Before, a copy holding twice-encoded escapes was judged for gateway bearers only
 * at one level, and went upstream.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startOwnCredentialRig, type OwnCredentialRig } from './own-credential-rig.js'

let rig: OwnCredentialRig

beforeAll(async () => {
  rig = await startOwnCredentialRig()
})

afterAll(async () => {
  await rig?.close()
})

/** How one character is written: as is, `%XX`, or `%25XX`; and whether its letter and the hex digits are upper-cased. */
const spelling = fc.record({ times: fc.constantFrom(0, 1, 2), upper: fc.boolean(), upperHex: fc.boolean() })
type Spelling = { times: number; upper: boolean; upperHex: boolean }
const encodedCase = fc.record({
  way: fc.constantFrom('forward' as const, 'route' as const),
  jwt: fc.nat(3),
  place: fc.constantFrom('path' as const, 'query' as const),
  // Every character the same way (once, twice), or each its own (mixed); at least one written twice.
  mix: fc.oneof(fc.constantFrom(1, 2), fc.array(spelling, { minLength: 1, maxLength: 64 })),
  upper: fc.boolean(),
  twiceAt: fc.nat(399),
})

function written(ch: string, s: Spelling): string {
  const c = s.upper ? ch.toUpperCase() : ch.toLowerCase()
  if (s.times === 0 && /[A-Za-z0-9_-]/.test(c)) return c
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
  const escape = `%${s.upperHex ? hex.toUpperCase() : hex}`
  return s.times === 2 ? `%25${escape.slice(1)}` : escape
}

/** The JWT as the case spells it, with one escape encoded twice at least. */
function spelled(jwt: string, c: { mix: 1 | 2 | Spelling[]; upper: boolean; twiceAt: number }): string {
  const each = [...jwt].map((_, i): Spelling => (typeof c.mix === 'number' ? { times: c.mix, upper: c.upper, upperHex: c.upper } : (c.mix[i % c.mix.length] as Spelling)))
  const at = c.twiceAt % jwt.length
  each[at] = { ...(each[at] as Spelling), times: 2 }
  return [...jwt].map((ch, i) => written(ch, each[i] as Spelling)).join('')
}

let cases = 0

describe('the request\'s own credential in the target, encoded once, twice or mixed, in any letter case', () => {
  it('is refused (400 credential_in_target) and nothing is sent (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(encodedCase, async (c) => {
        const jwt = rig.jwts[c.jwt] as string
        const value = spelled(jwt, c as Parameters<typeof spelled>[1])
        const target = c.place === 'path' ? `/v1/${value}` : `/v1/items?t=${value}`
        const id = `enc-${cases++}`
        const headers = { 'x-case': id, 'proxy-authorization': `Bearer ${jwt}` }
        const r = await send(rig.gw.url, c.way === 'route' ? `/proxy/partner${target}` : `http://api.partner.test:${rig.upstreamPort}${target}`, { headers })
        expect([r.status, r.json()], r.text).toEqual([400, { errors: [{ msg: expect.stringMatching(/^the request target's (path|query) holds a gateway credential/), code: 400 }] }])
        expect(rig.received.get(id), 'nothing was sent upstream').toBeUndefined()
      }),
      { seed: 0x2525, numRuns: 1_000 },
    )
  }, 600_000)
})
