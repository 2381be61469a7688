/**
 * A bearer from POST /gateway/token carries the claims of its assertion exactly: a field naming a
 * claim renders the same after the exchange as with the JWT used directly, or is refused the same
 * way. Claim values are generated as JSON text, numbers JSON.stringify cannot write back included
 * (`-0`, `-0.0`, `1e400`, `-1e400`, digits past a double): a record written with JSON.stringify
 * rendered "0" for `-0` (refused as inexact when direct) and called `1e400` null. JWT and JWE
 * assertions, with and without store.sealKeys, on a real SQLite store.
 */
import { createHmac, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { CompactEncrypt } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { compileGatewayKeys, exchangeAssertion, resolveBearer, type BearerStores } from '../../src/callers/index.js'
import { parseTemplate, renderTemplate, type Rendered } from '../../src/config/template.js'
import { GatewayError } from '../../src/errors.js'
import { createSealer, openSqliteStore } from '../../src/store/index.js'
import { AUDIENCE, HS_SECRET, rsaPair, testApps } from '../support/callers-fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'exchanged-claims-'))
const store = openSqliteStore({ file: join(dir, 'store.db') })
const gatewayKey = rsaPair()
const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gatewayKey.privatePem }])
const apps = testApps(rsaPair())
const sealer = (id: string) => createSealer([{ id, key: Buffer.alloc(32, id.length) }], id)
const opts = { apps, keys, clockSkewSec: 30, claimAliasPrefix: '', replay: store }

afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Number literals JSON.parse reads lossily or oddly, and ordinary ones. */
const numberText = fc.oneof(
  fc.constantFrom('-0', '-0.0', '0', '1e400', '-1e400', '1E400', '12345678901234567891', '9007199254740993', '1.0', '1e21', '0.1', '-5', '2.5e-7'),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? '-0' : JSON.stringify(d))),
)
const leafText = fc.oneof(numberText, fc.string().map((s) => JSON.stringify(s)), fc.constantFrom('true', 'false', 'null'))
const { valueText } = fc.letrec<{ valueText: string }>((tie) => ({
  valueText: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafText,
    fc.array(tie('valueText'), { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
    fc.uniqueArray(fc.tuple(fc.string({ maxLength: 4 }), tie('valueText')), { maxLength: 3, selector: ([k]) => k }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
}))
/** Claim names beside the identity claims: plain ones and names of Object.prototype members. */
const claimName = fc.oneof(fc.constantFrom('pin', 'acct', '__proto__', 'constructor', 'toString'), fc.stringMatching(/^c[a-z0-9]{0,3}$/))
const extraClaims = fc.uniqueArray(fc.tuple(claimName, valueText), { minLength: 1, maxLength: 5, selector: ([k]) => k })

/** An HS256 JWT (no jti: usable directly) over the payload text as generated. */
function jwtOver(extra: readonly (readonly [string, string])[]): string {
  const now = Math.floor(Date.now() / 1000)
  const own = extra.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join('')
  const payload = `{"iss":"hs-app","aud":"${AUDIENCE}","sub":"user-1","iat":${now - 10},"exp":${now + 600}${own}}`
  const input = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(payload).toString('base64url')}`
  return `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`
}

/** What each `{{claims.NAME}}` field renders to for the caller behind `bearer`, or its refusal. */
async function fieldsOf(bearer: () => Promise<string>, stores: BearerStores, names: readonly string[]): Promise<{ fields: Rendered[]; claims: unknown } | { refused: string }> {
  try {
    const caller = await resolveBearer(await bearer(), stores, opts)
    return { fields: names.map((n) => renderTemplate(parseTemplate(`{{claims.${n}}}`), { fields: {}, claims: caller.claims })), claims: caller.claims }
  } catch (e) {
    if (e instanceof GatewayError) return { refused: e.message }
    throw e
  }
}

describe('claims after the exchange (property, seeded)', () => {
  it('a direct JWT, its exchanged bearer and a JWE of it render every claim identically', async () => {
    await fc.assert(
      fc.asyncProperty(extraClaims, fc.boolean(), async (extra, sealKeys) => {
        const stores: BearerStores = { store, claimsSealer: sealer('claims'), ...(sealKeys ? { sealer: sealer('records') } : {}) }
        const names = extra.map(([k]) => k)
        const jwt = jwtOver(extra)
        const exchanged = async (assertion: string) => (await exchangeAssertion(assertion, opts, stores, 60)).token.access_token
        const jwe = await new CompactEncrypt(new TextEncoder().encode(jwt)).setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'k1', cty: 'JWT' }).encrypt(gatewayKey.publicKey)
        const direct = await fieldsOf(async () => jwt, stores, names)
        expect(await fieldsOf(() => exchanged(jwt), stores, names)).toEqual(direct)
        expect(await fieldsOf(() => exchanged(jwe), stores, names)).toEqual(direct)
      }),
      { seed: 0x0c1a1e5, numRuns: 150 },
    )
  })

  it('pins the two numbers JSON.stringify changed: -0 and 1e400 are refused as inexact after the exchange too', async () => {
    const stores: BearerStores = { store, claimsSealer: sealer('claims') }
    const jwt = jwtOver([['pin', '-0'], ['acct', '1e400'], ['id', `"${randomUUID()}"`]])
    const token = (await exchangeAssertion(jwt, opts, stores, 60)).token.access_token
    const result = await fieldsOf(async () => token, stores, ['pin', 'acct'])
    expect(result).toMatchObject({ fields: [{ inexact: 'claims.pin' }, { inexact: 'claims.acct' }] })
  })
})
