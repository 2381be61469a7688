/**
 * Templated profile URLs against the python3-oauthlib provider: a tenant in the token
 * URLs' host and path, the user and a field from the user's PIN form in the access-token
 * query and the authorize URL, values full of reserved characters. oauthlib verifies the
 * request-token and access-token signatures over the filled URLs it was called at.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { GatewayError, statusOf } from '../../src/errors.js'
import { compileProfiles, fillProfileUrl } from '../../src/gateway/index.js'
import type { ProfileConfig } from '../../src/config/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN_TOKEN, finishInBrowser, gatewayYaml, startDanceProvider, startInBrowser, trustingAgent, type DanceProvider, type ProviderState } from './dance-support.js'

const ORG = 'R&D Ops ü+%=1'
const USER = 'zoë@acme/1'
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
// RFC 3986 unreserved characters stay, everything else is percent-encoded.
const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

let pki: TestPki
let provider: DanceProvider
let gw: RunningGateway
let dir: string
let api: string

beforeAll(async () => {
  pki = await createTestPki('p256', ['localhost', '127.0.0.1', 'api.partner.test', 'acme.partner.test'])
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-templated-'))
  api = `https://{tenant}.partner.test:${provider.apiPort}`
  // The provider serves every tenant's token host at the endpoint's address (one server, many names):
  // said explicitly, as the endpoint's resolve names only its own origin, api.partner.test.
  const profileExtra = `    tenancy: true
    tokenUrlsOnEndpointServer: true
    userFields: [org]
    fields:
      # A query field: the org's non-ASCII text has no header encoding every reader agrees on (header fields carry visible ASCII only).
      - { type: query, key: org, value: "{{fields.org}}" }
  - name: byuser
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: dance-consumer-secret-7f3a
    requestTokenUrl: https://api.partner.test:${provider.apiPort}/request_token?u={{user}}
    accessTokenUrl: https://api.partner.test:${provider.apiPort}/access_token
    authorizeUrl: ${provider.browserUrl}/authorize
    token: { mode: per_user }
  - name: rawquery
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: dance-consumer-secret-7f3a
    requestTokenUrl: https://api.partner.test:${provider.apiPort}/request_token?scope=[read]&tag=a|b
    accessTokenUrl: https://api.partner.test:${provider.apiPort}/access_token?ids[]=1
    authorizeUrl: ${provider.browserUrl}/authorize
    token: { mode: per_user }
`
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, profileExtra })
    .replace(/requestTokenUrl: .*\/request_token\n/, `requestTokenUrl: ${api}/t/{tenant}/request_token\n`)
    .replace(/accessTokenUrl: .*\/access_token\n/, `accessTokenUrl: "${api}/t/{{tenant}}/access_token?org={{fields.org}}&u={{user}}"\n`)
    .replace(/authorizeUrl: .*\/authorize\n/, `authorizeUrl: "${provider.browserUrl}/portal/{{fields.org}}/authorize?lang=en&org={{fields.org}}"\n`)
  gw = await startTestGateway(dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('templated authorization URLs', () => {
  it('PIN form field in the authorize URL, tenant in the token URLs: the dance completes, signed over the filled URLs', async () => {
    const start = await send(gw.url, `/gateway/oauth1/partner/authorize?user=${enc(USER)}&tenant=acme&app=&format=json`, { headers: admin })
    expect(start.status, start.text).toBe(200)
    const link = start.json<{ authorizeUrl: string }>().authorizeUrl
    // The user's browser: the link's page (naming the user and the tenant), then its form with the PIN.
    const started = await startInBrowser(link, { provider, gateway: gw.url, fields: { org: ORG } })
    expect(started.page.text).toContain('name="field.org"')
    expect(started.page.text).toContain(`<b id="holder-user">${USER}</b> of tenant <b id="holder-tenant">acme</b>`)
    const toProvider = started.providerUrl
    const token = started.requestToken
    expect(toProvider).toBe(`${provider.browserUrl}/portal/${enc(ORG)}/authorize?lang=en&org=${enc(ORG)}&oauth_token=${token}`)
    // The provider serves its page at the filled path and reads the template's own query intact.
    const agent = trustingAgent(pki)
    const page = await fetch(toProvider, { dispatcher: agent })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain(`value="${token}"`)
    await agent.close()

    const { done } = await finishInBrowser(started, { provider, gateway: gw.url })
    expect(done.status, done.text).toBe(200)
    const calls = (await provider.state() as ProviderState & { token_calls: { endpoint: string; uri: string; status: number }[] }).token_calls
    const host = `https://acme.partner.test:${provider.apiPort}`
    expect(calls.filter((c) => c.uri.startsWith(host))).toEqual([
      { endpoint: 'request_token', uri: `${host}/t/acme/request_token`, status: 200 },
      { endpoint: 'access_token', uri: `${host}/t/acme/access_token?org=${enc(ORG)}&u=${enc(USER)}`, status: 200 },
    ])

    // UTF-8, as callers send header text (Node's client sends a string one byte per character).
    const call = await send(gw.url, '/proxy/partner@acme/resource/me', { headers: { 'x-gateway-user': Buffer.from(USER, 'utf8').toString('latin1') } })
    expect(call.status, call.text).toBe(200)
    expect(call.json<{ ok: boolean }>().ok).toBe(true)
  })

  it('the profile test shows the URL with the tenant filled; a URL needing the user names what is missing', async () => {
    const ok = await send(gw.url, '/gateway/oauth1/partner/test?tenant=acme', { method: 'POST', headers: admin })
    expect(ok.json<{ ok: boolean; message: string }>()).toMatchObject({ ok: true, message: expect.stringContaining(`https://acme.partner.test:${provider.apiPort}/t/acme/request_token`) })
    const needsUser = await send(gw.url, '/gateway/oauth1/byuser/test?tenant=acme', { method: 'POST', headers: admin })
    expect(needsUser.json<{ ok: boolean; message: string }>()).toEqual(expect.objectContaining({
      ok: false,
      message: 'profile "byuser": requestTokenUrl needs user, which this authorization does not provide',
    }))
  })
})

// Raw characters RFC 3986 does not allow in a query go percent-encoded and signed so, as the proxy
// sends a signed query. Before, they were signed and sent as written, and oauthlib refused the call (HTTP 500).
describe('raw characters in a token URL\'s query', () => {
  it('go percent-encoded, and oauthlib verifies the request-token call', async () => {
    const from = (await provider.state()).token_calls.length
    const test = await send(gw.url, '/gateway/oauth1/rawquery/test?tenant=acme', { method: 'POST', headers: admin })
    expect(test.json<{ ok: boolean }>().ok, test.text).toBe(true)
    const calls = (await provider.state()).token_calls.slice(from)
    expect(calls).toEqual([{ endpoint: 'request_token', uri: `https://api.partner.test:${provider.apiPort}/request_token?scope=%5Bread%5D&tag=a%7Cb`, status: 200 }])
  })
})

describe('fillProfileUrl', () => {
  const base: ProfileConfig = {
    name: 'p', index: 0, consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', tenancy: true, version: true, bodyHash: false,
    placement: 'header', legacyOAuth10: false, tokenUrlsOnEndpointServer: false, tokenUrlEndpoints: [], token: { mode: 'per_user' }, additionalFields: { svc: 'Z/1' }, userFields: ['pin'], fields: [],
    requestTokenUrl: 'https://{tenant}.example.com/{{fields.svc}}/rt?pin={{fields.pin}}',
  }
  const profile = compileProfiles([base]).profiles.get('p')!
  it('fills additional fields and the user\'s fields (the user\'s win), and shows only the tenant', () => {
    expect(fillProfileUrl(profile, 'requestTokenUrl', { tenant: 'acme', fields: { pin: '12 34', svc: 'own' } })).toEqual({
      url: 'https://acme.example.com/own/rt?pin=12%2034',
      shown: 'https://acme.example.com/{{fields.svc}}/rt?pin={{fields.pin}}',
    })
    expect(fillProfileUrl(profile, 'accessTokenUrl', {})).toBeUndefined()
  })
  it('percent-encodes the raw characters of a query as written, keeps its escapes, and shows it as written', () => {
    const raw = compileProfiles([{ ...base, tenancy: false, requestTokenUrl: 'https://example.com/rt?ids[]=1&q=a%5Bb|c d#x[y]' }]).profiles.get('p')!
    expect(fillProfileUrl(raw, 'requestTokenUrl', {})).toEqual({ url: 'https://example.com/rt?ids%5B%5D=1&q=a%5Bb%7Cc%20d#x[y]', shown: 'https://example.com/rt?ids[]=1&q=a%5Bb|c d#x[y]' })
  })
  it('a missing value is a 400 naming it; a missing tenant keeps its own text', () => {
    const refusal = (scope: Parameters<typeof fillProfileUrl>[2]): GatewayError => {
      try {
        fillProfileUrl(profile, 'requestTokenUrl', scope)
      } catch (e) {
        return e as GatewayError
      }
      throw new Error('expected a refusal')
    }
    const noPin = refusal({ tenant: 'acme' })
    expect([statusOf(noPin.reason, 'api'), noPin.message]).toEqual([400, 'profile "p": requestTokenUrl needs fields.pin, which this authorization does not provide'])
    const noTenant = refusal({ fields: { pin: '1' } })
    expect([statusOf(noTenant.reason, 'api'), noTenant.message]).toEqual([400, 'profile "p": requestTokenUrl contains {tenant}, so a tenant is needed'])
    const badTenant = refusal({ tenant: 'a.b', fields: { pin: '1' } })
    expect([statusOf(badTenant.reason, 'api'), badTenant.message]).toEqual([400, 'profile "p": requestTokenUrl: tenant is not a DNS label'])
  })
})
