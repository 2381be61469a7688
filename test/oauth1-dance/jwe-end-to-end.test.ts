/**
 * Issue 6's end-to-end: a JWE assertion (RSA-OAEP, A256GCM) → bearer token → a proxied call
 * whose authorization field comes from a decrypted claim and whose OAuth 1.0a token is the
 * `sub` user's own, obtained through the three-legged dance; python3-oauthlib verifies it.
 * Run in-process, against --workers 2, and against two replicas on Redis, alternating.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompactEncrypt, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology, type StoreLocation } from '../support/topology.js'
import { rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { ADMIN_TOKEN, danceInBrowser, gatewayYaml, startDanceProvider, type DanceProvider } from './dance-support.js'

const SECRET = 'jwe-e2e-hs256-secret-of-at-least-32-bytes'
const AUD = 'https://gateway.test'
let pki: TestPki
let provider: DanceProvider
let dir: string
let jweKey: RsaPair

async function jweAssertion(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const inner = await new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET))
  return new CompactEncrypt(new TextEncoder().encode(inner)).setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-jwe', cty: 'JWT' }).encrypt(jweKey.publicKey)
}

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-jwe-'))
  jweKey = rsaPair()
  writeFileSync(join(dir, 'jwe.pem'), jweKey.privatePem)
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

const yamlFor = (store: StoreLocation): string => {
  const callers = `callers:\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }\n  gatewayKeys:\n    - { kid: gw-jwe, privateKey: "\${file:${join(dir, 'jwe.pem')}}" }`
  const profileExtra = '    fields:\n      - { type: query, key: account, value: "{{claims.account}}" }\n'
  return gatewayYaml({ pki, provider, store, callers, profileExtra })
}

describe.each(TOPOLOGIES)('JWE assertion → bearer → signed call for the sub user (%s)', (kind) => {
  const { gw } = useTopology(kind, 'dance-jwe', yamlFor)

  it('fills the field from the decrypted claim and signs with the user\'s own token', async () => {
    const exchange = async (): Promise<string> => {
      const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jweAssertion({ sub: 'jwe-user', account: 'ACC-9 x' }) }) })
      expect(r.status, r.text).toBe(200)
      return r.json<{ access_token: string }>().access_token
    }
    const bearer = await exchange()
    const before = await send(gw.url, '/proxy/partner/resource/me', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })
    expect(before.status).toBe(401)
    const link = before.json<{ errors: { authorizeUrl: string }[] }>().errors[0]?.authorizeUrl ?? ''
    expect(link).toContain('/gateway/oauth1/partner/authorize?link=')
    const dance = await danceInBrowser(link, { provider, gateway: () => gw.url })
    expect(dance.click.status, dance.click.text).toBe(303)
    expect(dance.page.text).toContain('<b id="holder-user">jwe-user</b>')
    expect(dance.done.status).toBe(200)

    const call = await send(gw.url, '/proxy/partner/resource/me', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })
    expect(call.status, call.text).toBe(200)
    const verified = call.json<{ ok: boolean; token: string; params: [string, string][] }>()
    expect(verified.ok).toBe(true)
    expect(verified.params).toContainEqual(['account', 'ACC-9 x'])
    expect(verified.token).toMatch(/^[A-Za-z0-9]{20,30}$/)
    // A second user's bearer has no token yet: the token really is per sub.
    const other = await send(gw.url, '/proxy/partner/resource/me', {
      headers: { 'proxy-authorization': `Bearer ${(await (await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jweAssertion({ sub: 'someone-else', account: 'A' }) }) })).json<{ access_token: string }>()).access_token}` },
    })
    expect(other.status).toBe(401)
  })
})
