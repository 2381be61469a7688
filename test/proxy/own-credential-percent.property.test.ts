/**
 * The request's own credential is found in the request target whatever text it is, `%` in it or
 * not: a `Proxy-Authorization: Bearer` token of any printable ASCII (an open gateway, no `callers`
 * section: whatever the bearer carries is the request's own credential), often holding `%25`, `%41`
 * or a lone `%`, copied into the path or query in any letter case and percent-encoded once or twice
 * by an encoder that escapes `%` and any other characters (hex digits in either case), is refused
 * with 400 credential_in_target and nothing is sent. On the forward proxy and in route mode,
 * against a real mTLS upstream that records every line it receives (the endpoint's address is
 * configured: the target's text never picks what is dialled). Before, a token holding `%25`,
 * encoded twice, was read with every `%25…` brought back to one `%`, which changed the token's own
 * text, and went upstream: only a reader decoding twice, which the scan did not model, saw it.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startOwnCredentialRig, type OwnCredentialRig } from './own-credential-rig.js'

let rig: OwnCredentialRig

beforeAll(async () => {
  rig = await startOwnCredentialRig({ open: true })
})

afterAll(async () => {
  await rig?.close()
})

const token = fc.array(fc.oneof(fc.constantFrom('%', '%25', '%2', '25', '%41', '%zz', 'a', 'F'), fc.stringMatching(/^[!-~]$/)), { minLength: 16, maxLength: 40 })
  .map((p) => p.join('').slice(0, 60))
  .filter((t) => t.length >= 16)
const flags = fc.array(fc.boolean(), { minLength: 1, maxLength: 17 })
const percentCase = fc.record({
  way: fc.constantFrom('forward' as const, 'route' as const),
  place: fc.constantFrom('path' as const, 'query' as const),
  token,
  times: fc.constantFrom(1, 2),
  flips: flags,
  escape1: flags,
  hex1: flags,
  escape2: flags,
  hex2: flags,
})

/**
 * One encoding pass: `%` always escaped, any other character as `escapeAt` says, hex in either case;
 * on the `last` pass also every character but [A-Za-z0-9._~-], so the target is one a client sends.
 */
function encoded(s: string, escapeAt: readonly boolean[], upperHex: readonly boolean[], last: boolean): string {
  return [...s].map((c, i) => {
    if (c !== '%' && escapeAt[i % escapeAt.length] !== true && !(last && !/[A-Za-z0-9._~-]/.test(c))) return c
    const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
    return `%${upperHex[i % upperHex.length] === true ? hex.toUpperCase() : hex}`
  }).join('')
}

const folded = (t: string, flips: readonly boolean[]): string => [...t].map((c, i) => (flips[i % flips.length] === true ? c.toUpperCase() : c.toLowerCase())).join('')

let cases = 0

describe('the request\'s own credential of any text (`%25`, `%41`, a lone `%`), in the target encoded once or twice, in any letter case', () => {
  it('is refused (400 credential_in_target) and nothing is sent (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(percentCase, async (c) => {
        const once = encoded(folded(c.token, c.flips), c.escape1, c.hex1, c.times === 1)
        const value = c.times === 1 ? once : encoded(once, c.escape2, c.hex2, true)
        const target = c.place === 'path' ? `/v1/${value}` : `/v1/items?t=${value}`
        const id = `pct-${cases++}`
        const headers = { 'x-case': id, 'proxy-authorization': `Bearer ${c.token}` }
        const r = await send(rig.gw.url, c.way === 'route' ? `/proxy/partner${target}` : `http://api.partner.test:${rig.upstreamPort}${target}`, { headers })
        expect([r.status, r.json()], r.text).toEqual([400, { errors: [{ msg: expect.stringMatching(/^the request target's (path|query) holds a gateway credential/), code: 400 }] }])
        expect(rig.received.get(id), 'nothing was sent upstream').toBeUndefined()
      }),
      { seed: 0x2541, numRuns: 1_000 },
    )
  }, 600_000)
})
