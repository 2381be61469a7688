/**
 * Hostile JOSE headers on a caller's JWT: the app's key and algorithm alone decide. Keys a header
 * names or embeds (`jku`, `x5u`, `jwk`, `x5c`), `kid` (with path, SQL or header-injection text),
 * `typ` and `cty` are ignored and never fetched (a listener they point at sees no connection); any
 * `alg` spelling but the app's own is refused; `crit` (`b64: false` included) is refused as
 * malformed; and no refusal echoes the token. Seeded property over generated headers.
 */
import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, verifyCallerAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, HS_SECRET, nowMs, rsaPair, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const apps = testApps(rs)
const opts = () => ({ apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })
const b64 = (text: string): string => Buffer.from(text).toString('base64url')

/** An HS256-signed (with `key`) JWT of `header` as given, for hs-app's good claims. */
function jwt(header: Record<string, unknown>, key: string | Buffer = HS_SECRET, iss = 'hs-app'): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims(iss)))}`
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
}

async function verdict(token: string): Promise<string> {
  return verifyCallerAssertion(token, opts()).then(
    () => 'accepted',
    (e: unknown) => {
      if (!(e instanceof GatewayError)) return `unexpected ${String(e)}`
      expect(e.message).not.toContain(token)
      expect(e.message).not.toContain(token.split('.')[2])
      return authFailureLabel(e) ?? e.reason
    },
  )
}

let listener: Server
let connections = 0
let url = ''
beforeAll(async () => {
  listener = createServer((s) => {
    connections++
    s.destroy()
  })
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const address = listener.address()
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/keys`
})
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())))

describe('hostile JOSE headers', () => {
  it('property: embedded or referenced keys, kid, typ and cty never matter, and are never fetched; only "HS256" is HS256 (seeded)', async () => {
    const attacker = 'an-attacker-secret-of-at-least-32-bytes!'
    const member = fc.oneof(
      fc.constant<[string, unknown]>(['jku', url]),
      fc.constant<[string, unknown]>(['x5u', url]),
      fc.constant<[string, unknown]>(['jwk', { kty: 'oct', k: b64(attacker) }]),
      fc.constant<[string, unknown]>(['jwk', rs.publicKey.export({ format: 'jwk' })]),
      fc.constant<[string, unknown]>(['x5c', ['MIIB']]),
      fc.constantFrom<[string, unknown]>(['kid', '../../../../etc/passwd'], ['kid', "' OR '1'='1"], ['kid', 'k\r\nX-Injected: 1'], ['kid', '\u0000'], ['kid', 42]),
      fc.constantFrom<[string, unknown]>(['typ', 'JWE'], ['typ', 'at+jwt'], ['cty', 'JWT'], ['typ', null]),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(member, { maxLength: 4 }), fc.constantFrom('HS256', 'hs256', 'Hs256', 'HS256 ', 'none', 'None', 'nOnE', 'RS256', 'HS384'), fc.boolean(), async (members, alg, ownKey) => {
        const token = jwt({ ...Object.fromEntries(members), alg }, ownKey ? HS_SECRET : attacker)
        const expected = alg !== 'HS256' ? 'alg_not_allowed' : ownKey ? 'accepted' : 'bad_signature'
        expect(await verdict(token)).toBe(expected)
      }),
      { seed: 0x10e, numRuns: 300 },
    )
    expect(connections).toBe(0)
  })
  it('crit is refused as malformed, b64: false included; b64 outside crit means nothing', async () => {
    expect(await verdict(jwt({ alg: 'HS256', crit: ['b64'], b64: false }))).toBe('malformed')
    expect(await verdict(jwt({ alg: 'HS256', crit: ['exp'], exp: 1 }))).toBe('malformed')
    expect(await verdict(jwt({ alg: 'HS256', b64: false }))).toBe('accepted')
  })
  it('HS256 keyed with the RS256 app\'s public key in every form is refused (PEM SPKI, PKCS#1, DER, JWK text)', async () => {
    const forms = [rs.publicPem, rs.publicKey.export({ type: 'pkcs1', format: 'pem' }), rs.publicKey.export({ type: 'spki', format: 'der' }), JSON.stringify(rs.publicKey.export({ format: 'jwk' }))]
    for (const key of forms) expect(await verdict(jwt({ alg: 'HS256' }, key, 'rs-app'))).toBe('alg_not_allowed')
  })
})
