/**
 * The dance's filled profile URLs get the proxied request's outbound check (callers'
 * judgeOutboundUrl, one function for both): a user or tenant holding a gateway bearer, in any
 * letter case or joined by "-"/"_", is refused (400 credential_in_target) before the provider is
 * called, against the python3-oauthlib provider over mTLS, which records every token call it
 * receives; crafted users and tenants (delimiters, dot segments, another host spelled in) never
 * move a token call or the provider's authorize page off the profile's configured origin. Before,
 * a bearer given as the dance's user reached the provider in the request-token URL's query, and one
 * given as the tenant in its path. A user whose filled URLs hold a bearer is refused when the link
 * is asked for, with the error the click gave, so no link or pending record holds it: before, the
 * start made a link and the click was refused; with the user only in the provider's authorize
 * URL, the click had called the provider and parked a pending request token first.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { sqliteKeysLike } from '../support/store-expiry.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN, authorizeLink, clickLink, gatewayYaml, startDanceProvider, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let gw: RunningGateway
let dir: string
let api: string

/** A bearer that is also a DNS label once lower-cased (no "_", no "-" at either end): a tenant the label rule lets through. */
function labelBearer(): string {
  for (;;) {
    const b = newBearerToken()
    if (/^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/.test(b)) return b
  }
}

beforeAll(async () => {
  pki = await createTestPki('p256', ['localhost', '127.0.0.1', 'api.partner.test'])
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-filled-'))
  api = `https://api.partner.test:${provider.apiPort}`
  const profileExtra = `  - name: bytenant
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: dance-consumer-secret-7f3a
    tenancy: true
    tokenUrlsOnEndpointServer: true
    requestTokenUrl: ${api}/t/{tenant}/request_token
    accessTokenUrl: ${api}/t/{tenant}/access_token
    authorizeUrl: ${provider.browserUrl}/authorize
    token: { mode: per_user }
  - name: bypage
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: dance-consumer-secret-7f3a
    tokenUrlsOnEndpointServer: true
    requestTokenUrl: ${api}/request_token
    accessTokenUrl: ${api}/access_token
    authorizeUrl: "${provider.browserUrl}/authorize?who={{user}}"
    token: { mode: per_user }
`
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, profileExtra })
    .replace(/requestTokenUrl: .*\/request_token\n/, `requestTokenUrl: "${api}/request_token?u={{user}}"\n`)
    .replace(/authorizeUrl: .*\/authorize\n/, `authorizeUrl: "${provider.browserUrl}/authorize?who={{user}}"\n`)
  gw = await startTestGateway(dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

/** Every token call the provider received, lower-cased: what a bearer must never be in. */
async function receivedText(): Promise<string> {
  return JSON.stringify((await provider.state()).token_calls).toLowerCase()
}

/** The keys of the dance's links and pending request tokens in the gateway's store. */
function danceRecords(): string[] {
  return sqliteKeysLike(join(dir, 'state.db'), 'oauth1:link%', 'oauth1:request:%')
}

describe('filled profile URLs: no gateway bearer reaches the provider, the origin is the profile\'s', () => {
  it('a user holding a bearer (any case, joined) is refused when the link is asked for, as the click was, nothing made; an ordinary user reaches the provider', async () => {
    const bearer = newBearerToken()
    for (const [profile, url] of [['partner', 'requestTokenUrl'], ['bypage', 'authorizeUrl']]) {
      for (const user of [bearer, bearer.toLowerCase(), bearer.toUpperCase(), `x-${bearer}`, `${bearer}_2`, `me@${bearer.toLowerCase()}`]) {
        const calls = (await provider.state()).token_calls.length
        const records = danceRecords()
        const start = await send(gw.url, `/gateway/oauth1/${profile}/authorize?user=${encodeURIComponent(user)}&app=&format=json`, { headers: ADMIN })
        expect([start.status, start.json()], start.text).toEqual([400, { errors: [{ msg: `profile "${profile}": the ${url} filled for this authorization holds a gateway credential, placed there from the request (the tenant, the user, a field): nothing was sent; send the credential in Proxy-Authorization (route mode: Authorization) only, never where it reaches a URL`, code: 400 }] }])
        expect(danceRecords(), 'no link or pending record was made').toEqual(records)
        expect((await provider.state()).token_calls.length, 'nothing reached the provider').toBe(calls)
      }
    }
    const click = await clickLink(gw.url, await authorizeLink(gw.url, 'user=alice'))
    expect(click.status, click.text).toBe(303)
    expect(String(click.headers.location)).toMatch(new RegExp(`^${provider.browserUrl}/authorize\\?who=alice&oauth_token=`))
    expect((await provider.state()).token_calls.at(-1)).toMatchObject({ endpoint: 'request_token', uri: `${api}/request_token?u=alice`, status: 200 })
    expect(await receivedText()).not.toContain(bearer.toLowerCase())
  })

  it('a tenant that is a bearer (a DNS label once lower-cased) is refused before the request-token call; an ordinary tenant reaches the provider', async () => {
    const bearer = labelBearer()
    for (const tenant of [bearer, bearer.toLowerCase(), bearer.toUpperCase(), `t-${bearer.toLowerCase()}`]) {
      const calls = (await provider.state()).token_calls.length
      const r = await send(gw.url, `/gateway/oauth1/bytenant/test?tenant=${tenant}`, { method: 'POST', headers: ADMIN })
      expect(r.json<{ ok: boolean; message: string }>(), r.text).toMatchObject({ ok: false, message: expect.stringContaining('holds a gateway credential') })
      expect(r.text.toLowerCase()).not.toContain(bearer.toLowerCase())
      expect((await provider.state()).token_calls.length, 'nothing reached the provider').toBe(calls)
    }
    const ok = await send(gw.url, '/gateway/oauth1/bytenant/test?tenant=acme', { method: 'POST', headers: ADMIN })
    expect(ok.json<{ ok: boolean }>().ok, ok.text).toBe(true)
    expect((await provider.state()).token_calls.at(-1)).toMatchObject({ uri: `${api}/t/acme/request_token`, status: 200 })
    expect(await receivedText()).not.toContain(bearer.toLowerCase())
  })

  it('crafted users and tenants never move a token call or the authorize page off the configured origin', async () => {
    const users = ['@evil.test', '//evil.test/x', 'a/../../x', '..', '%2e%2e%2fx', '\\\\evil.test', 'x?u=1#frag', 'https://evil.test:1/', 'a%00b', ':443@evil.test']
    for (const user of users) {
      const click = await clickLink(gw.url, await authorizeLink(gw.url, `user=${encodeURIComponent(user)}`))
      // Refused as a value its place cannot hold, or sent with the value encoded in it.
      if (click.status === 303) expect(new URL(String(click.headers.location)).origin).toBe(provider.browserUrl)
      else expect(click.status, click.text).toBe(400)
    }
    for (const tenant of ['evil.test', 'acme.evil', 'a@b', 'a:1', 'a/b', '..']) {
      const r = await send(gw.url, `/gateway/oauth1/bytenant/test?tenant=${encodeURIComponent(tenant)}`, { method: 'POST', headers: ADMIN })
      expect(r.status).toBeLessThan(500)
    }
    for (const call of (await provider.state()).token_calls) expect(call.uri.startsWith(`${api}/`), call.uri).toBe(true)
  })
})
