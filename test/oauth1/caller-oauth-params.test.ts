/**
 * On an endpoint the gateway signs with OAuth 1.0a, the gateway alone sets the protocol
 * parameters: a caller's own `oauth_*` query or form parameter (in any spelling a backend
 * parser reads as one), or an `Authorization: OAuth …` header beside query/body placement, is
 * a 400 JSON error naming it and never reaches the provider (python3-oauthlib over mTLS), so a
 * caller cannot have its own `oauth_token` or `oauth_callback` signed and sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway, type Reply } from '../support/gateway.js'
import { singleClientConfig, startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

const CONSUMER = { key: 'gatewayconsumer0000001', secret: 'consumer-secret' }
const TOKEN = { token: 'useraccesstoken00000001', secret: 'token-secret' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

let pki: TestPki
let provider: OAuth1Provider
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  provider = await startOAuth1Provider(singleClientConfig(pki, CONSUMER, TOKEN))
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  let endpoints = ''
  let profiles = ''
  for (const placement of ['header', 'query', 'body']) {
    endpoints += `  - name: signed-${placement}\n    url: https://api.partner.test:${provider.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    profile: p-${placement}\n${tls}`
    profiles += `  - name: p-${placement}\n    consumerKey: ${CONSUMER.key}\n    consumerSecret: ${CONSUMER.secret}\n    signatureMethod: HMAC-SHA1\n    placement: ${placement}\n    token: { mode: static, token: ${TOKEN.token}, tokenSecret: ${TOKEN.secret} }\n`
  }
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpoints}profiles:\n${profiles}`)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
})

function expectRefused(r: Reply, endpoint: string, what: string): void {
  expect(r.status, r.text).toBe(400)
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
  expect(r.json()).toEqual({ errors: [{ msg: `endpoint "${endpoint}" is signed by the gateway with OAuth 1.0a, which sets every OAuth protocol parameter: the request may not carry its own (${what})`, code: 400 }] })
}

describe('a caller\'s own OAuth protocol parameters', () => {
  it('are refused in the query, in every placement and spelling, before anything is sent', async () => {
    const cases: [string, string][] = [
      ['oauth_token=evil', 'oauth_token'], ['oauth_callback=https%3A%2F%2Fevil.example%2F', 'oauth_callback'], ['a=1;oauth_token=evil', 'oauth_token'],
      ['OAUTH_TOKEN=evil', 'OAUTH_TOKEN'], ['oauth%5Ftoken=evil', 'oauth%5Ftoken'], ['oauth_token[]=evil', 'oauth_token[]'], ['oauth.verifier=evil', 'oauth.verifier'],
    ]
    for (const placement of ['header', 'query', 'body']) {
      for (const [query, name] of cases) {
        const r = await send(gw.url, `/proxy/signed-${placement}/r?marker=refused&${query}`, { method: 'POST', headers: FORM, body: 'a=1' })
        expectRefused(r, `signed-${placement}`, `query parameter "${name}"`)
      }
    }
  })

  it('are refused in a form body, and as an Authorization: OAuth header beside query or body placement', async () => {
    expectRefused(await send(gw.url, '/proxy/signed-header/r?marker=refused', { method: 'POST', headers: FORM, body: 'a=1&oauth_token=evil' }), 'signed-header', 'form-body parameter "oauth_token"')
    expectRefused(await send(gw.url, '/proxy/signed-body/r?marker=refused', { method: 'POST', headers: FORM, body: 'oauth_callback=oob&a=1' }), 'signed-body', 'form-body parameter "oauth_callback"')
    for (const placement of ['query', 'body']) {
      const r = await send(gw.url, `/proxy/signed-${placement}/r?marker=refused`, { method: 'POST', headers: { ...FORM, authorization: `OAuth oauth_consumer_key="${CONSUMER.key}", oauth_token="evil"` }, body: 'a=1' })
      expectRefused(r, `signed-${placement}`, 'an "Authorization: OAuth …" header')
    }
  })

  it('a body only some parsers read as a form is refused, so a caller cannot slip oauth_* past the check that way', async () => {
    // No type at all: Rack reads a POST's body as a form.
    for (const type of ['application/x-www-form-urlencoded,text/plain', 'application/x-www-form-urlencoded x', undefined]) {
      for (const placement of ['header', 'query', 'body']) {
        const r = await send(gw.url, `/proxy/signed-${placement}/r?marker=refused`, { method: 'POST', headers: type === undefined ? {} : { 'content-type': type }, body: 'oauth_token=victim-token&a=1' })
        expect(r.status, r.text).toBe(400)
        expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(new RegExp(`^endpoint "signed-${placement}" is signed with OAuth 1.0a, whose signature covers form parameters, and (Content-Type|the request has a body without a Content-Type)`)), code: 400 }] })
      }
    }
  })

  it('none of them reached the provider, while an ordinary call is signed with the gateway\'s token only', async () => {
    const r = await send(gw.url, '/proxy/signed-header/r?marker=ordinary&page=2&oauthx=1', { headers: { authorization: 'OAuth oauth_token="replaced"' } })
    const v = r.json<{ ok: boolean; oauth_params?: Record<string, string>; params?: [string, string][] }>()
    expect(v.ok, r.text).toBe(true)
    expect(v.oauth_params?.oauth_token).toBe(TOKEN.token)
    expect(v.params).toEqual(expect.arrayContaining([['page', '2'], ['oauthx', '1']]))
    expect(provider.stderr()).toContain('marker=ordinary')
    expect(provider.stderr()).not.toContain('marker=refused')
  })
})
