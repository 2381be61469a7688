/**
 * The request's own credential is looked for in any letter case: a caller JWT without `jti`,
 * used directly as the credential on Proxy-Authorization (a JWT carries no bearer tag, so only
 * the own-credential check can know it), whose copy appears lower-cased, upper-cased or with
 * letters flipped, anywhere in another header's value or name, is removed with that header; in
 * the request target's path or query (as sent or percent-encoded) it is refused with 400
 * credential_in_target and nothing is sent; and an X-Request-Id holding a copy of a credential is
 * replaced. On the forward proxy and in route mode, against a real mTLS upstream that records every
 * line it receives. Before, the check was case-sensitive: a case-folded copy went upstream.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, type Reply } from '../support/gateway.js'
import { startOwnCredentialRig, type OwnCredentialRig } from './own-credential-rig.js'

const RUNS = 1_000

let rig: OwnCredentialRig

beforeAll(async () => {
  rig = await startOwnCredentialRig()
})

afterAll(async () => {
  await rig?.close()
})

/** A case-folded copy: lower-cased, upper-cased, or some letters flipped (never the credential as sent: that was always found). */
const folding = fc.oneof(fc.constant('lower' as const), fc.constant('upper' as const), fc.uniqueArray(fc.nat(399), { minLength: 1, maxLength: 12 }))
function folded(text: string, how: 'lower' | 'upper' | number[]): string {
  if (how === 'lower') return text.toLowerCase()
  if (how === 'upper') return text.toUpperCase()
  const letters = [...text.matchAll(/[A-Za-z]/g)].map((m) => m.index)
  const flip = new Set(how.map((n) => letters[n % letters.length]))
  const out = [...text].map((c, i) => (flip.has(i) ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('')
  // The copy must differ from the credential: flipping may not touch a letter whose case it changes.
  return out === text ? text.toLowerCase() : out
}
const around = fc.stringMatching(/^[A-Za-z0-9 ;=,:/_-]{0,6}$/)
const copy = fc.record({ folding, before: around, after: around })
type Copy = { folding: 'lower' | 'upper' | number[]; before: string; after: string }
const spelled = (jwt: string, c: Copy): string => `${c.before}${folded(jwt, c.folding)}${c.after}`

const headerCase = fc.record({
  way: fc.constantFrom('forward' as const, 'route' as const),
  jwt: fc.nat(3),
  inValues: fc.uniqueArray(fc.record({ name: fc.constantFrom('x-copy', 'cookie', 'x-api-key', 'authorization', 'x-trace'), copy }), { minLength: 1, maxLength: 3, selector: (v: { name: string }) => v.name }),
  inName: fc.option(copy, { nil: undefined }),
})
const targetCase = fc.record({
  way: fc.constantFrom('forward' as const, 'route' as const),
  jwt: fc.nat(3),
  place: fc.constantFrom('path' as const, 'query' as const),
  copy,
  encodeDots: fc.boolean(),
})

let cases = 0

/** Sends `target` with the JWT as the credential and `headers`; the reply, and what the upstream received (undefined: nothing). */
async function sent(way: 'forward' | 'route', jwt: string, target: string, headers: Record<string, string>): Promise<{ r: Reply; seen: string | undefined }> {
  const id = `own-${cases++}`
  const all = { ...headers, 'x-case': id, 'x-kept': 'plain value', 'proxy-authorization': `Bearer ${jwt}` }
  const r = await send(rig.gw.url, way === 'route' ? `/proxy/partner${target}` : `http://api.partner.test:${rig.upstreamPort}${target}`, { headers: all })
  expect(r.text.toLowerCase(), 'the answer never repeats the credential').not.toContain(jwt.toLowerCase())
  return { r, seen: rig.received.get(id) }
}

describe('the request\'s own credential, a JWT used as the bearer, is found in any letter case', () => {
  it(`a case-folded copy in another header's value or name is removed with that header (${RUNS.toLocaleString('en')} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(headerCase, async (c) => {
        const jwt = rig.jwts[c.jwt] as string
        const headers: Record<string, string> = {}
        // Route mode's Authorization is the gateway's credential too, judged at admission: not a copy's place there.
        for (const v of c.inValues) if (!(c.way === 'route' && v.name === 'authorization')) headers[v.name] = spelled(jwt, v.copy)
        // A JWT's characters are all token characters: a header name can hold it.
        if (c.inName !== undefined) headers[`x-${folded(jwt, c.inName.folding)}`] = 'present'
        const { r, seen } = await sent(c.way, jwt, '/v1/items', headers)
        expect(r.status, r.text).toBe(200)
        expect(seen).toBeDefined()
        expect((seen as string).toLowerCase(), 'no copy of the credential, in any letter case').not.toContain(jwt.toLowerCase())
        expect(seen).toContain('\nx-kept: plain value')
      }),
      { seed: 0x0c45e, numRuns: RUNS },
    )
  }, 600_000)

  it('a case-folded copy in the request target\'s path or query, as sent or percent-encoded, is refused: nothing is sent (500 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(targetCase, async (c) => {
        const jwt = rig.jwts[c.jwt] as string
        const text = spelled(jwt, c.copy).replace(/[^A-Za-z0-9._~-]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)
        const value = c.encodeDots ? text.replaceAll('.', '%2E') : text
        const { r, seen } = await sent(c.way, jwt, c.place === 'path' ? `/v1/${value}` : `/v1/items?t=${value}`, {})
        expect([r.status, r.json()], r.text).toEqual([400, { errors: [{ msg: expect.stringMatching(/^the request target's (path|query) holds a gateway credential/), code: 400 }] }])
        expect(seen, 'nothing was sent upstream').toBeUndefined()
      }),
      { seed: 0x7a6e7, numRuns: 500 },
    )
  }, 600_000)

  it('an X-Request-Id holding a case-folded copy of the credential is replaced by a fresh id (500 runs)', async () => {
    // Short enough for an id (≤128 of A-Za-z0-9._:-): the request's own credential in Authorization, as request-id.ts reads it.
    const credential = 'Opaque.Token_of-Forty.Chars_AbCdEfGhIjKl'
    await fc.assert(
      fc.asyncProperty(fc.record({ folding, before: fc.constantFrom('', 'req-', 'a.'), after: fc.constantFrom('', '-1', ':z') }), async (c) => {
        const id = `rid-${cases++}`
        const given = `${c.before}${folded(credential, c.folding)}${c.after}`
        const r = await send(rig.gw.url, `http://api.partner.test:${rig.upstreamPort}/rid`, { headers: { 'x-case': id, 'x-request-id': given, 'proxy-authorization': `Bearer ${rig.jwts[0] as string}`, authorization: `Token ${credential}` } })
        expect(r.status, r.text).toBe(200)
        expect(String(r.headers['x-request-id'])).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        expect((rig.received.get(id) as string).toLowerCase()).not.toContain(`x-request-id: ${given.toLowerCase()}`)
      }),
      { seed: 0x1d5, numRuns: 500 },
    )
  }, 600_000)
})
