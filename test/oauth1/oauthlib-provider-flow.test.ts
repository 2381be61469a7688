/**
 * The oauthlib provider's token endpoints, driven by our signer: RFC 5849 §2 temporary
 * credentials → resource owner authorization → token credentials → protected resource.
 * This proves the fixture the three-legged dance will be tested against, not the dance itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseForm, signRequest, type SignInput } from '../../src/oauth1/index.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { send, type TestResponse } from './http-client.js'

const CONSUMER = { consumerKey: 'dancingconsumerkey0001', consumerSecret: 'dance-secret' }
const CALLBACK = 'http://127.0.0.1:9/oauth/callback?state=s1'
const FORM = 'application/x-www-form-urlencoded'

let provider: OAuth1Provider

beforeAll(async () => {
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.consumerKey, secret: CONSUMER.consumerSecret, callbacks: [CALLBACK, 'oob'] }],
  })
})

afterAll(async () => {
  await provider?.close()
})

async function signedPost(path: string, over: Partial<SignInput>): Promise<TestResponse> {
  const signed = signRequest({ ...CONSUMER, method: 'POST', url: `${provider.url}${path}`, signatureMethod: 'HMAC-SHA1', placement: 'header', ...over })
  return send('POST', signed.url, { authorization: signed.authorizationHeader ?? '' })
}

function form(res: TestResponse): Record<string, string> {
  return Object.fromEntries(parseForm(res.text))
}

async function requestToken(callback: string): Promise<{ token: string; secret: string }> {
  const res = await signedPost('/request_token', { callback })
  expect(res.status, res.text).toBe(200)
  const body = form(res)
  expect(body.oauth_callback_confirmed).toBe('true')
  return { token: body.oauth_token ?? '', secret: body.oauth_token_secret ?? '' }
}

async function decide(token: string, decision: 'approve' | 'deny'): Promise<TestResponse> {
  return send('POST', `${provider.url}/authorize`, { 'content-type': FORM }, `oauth_token=${token}&decision=${decision}`)
}

describe('oauthlib provider: three-legged flow', () => {
  it('request token → approve → access token → protected resource', async () => {
    const temp = await requestToken(CALLBACK)

    const page = await send('GET', `${provider.url}/authorize?oauth_token=${temp.token}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('name="decision" value="approve"')
    expect(page.text).toContain(CONSUMER.consumerKey)

    const approved = await decide(temp.token, 'approve')
    expect(approved.status).toBe(302)
    const location = new URL(String(approved.headers.location))
    expect(location.origin + location.pathname).toBe('http://127.0.0.1:9/oauth/callback')
    expect(location.searchParams.get('state')).toBe('s1')
    expect(location.searchParams.get('oauth_token')).toBe(temp.token)
    const verifier = location.searchParams.get('oauth_verifier') ?? ''
    expect(verifier).toMatch(/^[A-Za-z0-9]{20,30}$/)

    const access = await signedPost('/access_token', { token: temp.token, tokenSecret: temp.secret, verifier })
    expect(access.status, access.text).toBe(200)
    const creds = form(access)

    const signed = signRequest({
      ...CONSUMER,
      token: creds.oauth_token,
      tokenSecret: creds.oauth_token_secret,
      method: 'GET',
      url: `${provider.url}/resource/me`,
      signatureMethod: 'HMAC-SHA256',
      placement: 'header',
    })
    const resource = await send('GET', signed.url, { authorization: signed.authorizationHeader ?? '' })
    expect(resource.status, resource.text).toBe(200)
    expect(resource.json).toMatchObject({ ok: true, token: creds.oauth_token })

    // The request token is spent once exchanged.
    const again = await signedPost('/access_token', { token: temp.token, tokenSecret: temp.secret, verifier })
    expect(again.status).toBe(401)
  })

  it('a wrong verifier is refused', async () => {
    const temp = await requestToken(CALLBACK)
    expect((await decide(temp.token, 'approve')).status).toBe(302)
    const res = await signedPost('/access_token', { token: temp.token, tokenSecret: temp.secret, verifier: 'wrongverifier0123456789' })
    expect(res.status).toBe(401)
  })

  it('deny redirects to the callback with denied=<token> and forgets the token', async () => {
    const temp = await requestToken(CALLBACK)
    const denied = await decide(temp.token, 'deny')
    expect(denied.status).toBe(302)
    expect(new URL(String(denied.headers.location)).searchParams.get('denied')).toBe(temp.token)
    expect((await send('GET', `${provider.url}/authorize?oauth_token=${temp.token}`)).status).toBe(400)
  })

  it('oob shows the verifier on the page', async () => {
    const temp = await requestToken('oob')
    const page = await decide(temp.token, 'approve')
    expect(page.status).toBe(200)
    expect(page.text).toMatch(/<code id="verifier">[A-Za-z0-9]{30}<\/code>/)
  })

  it('a callback the client did not register is refused', async () => {
    const res = await signedPost('/request_token', { callback: 'http://evil.example/cb' })
    expect(res.status).toBe(401)
  })
})
