import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { parseForm, signRequest, type SignInput } from '../../src/oauth1/index.js'

describe('X (Twitter) "Creating a signature" example', () => {
  // Source: X developer docs, "Creating a signature",
  // https://developer.x.com/en/docs/authentication/oauth-1-0a/creating-a-signature
  // (POST statuses/update.json with a form body; the guide's base string and signature).
  const input: SignInput = {
    method: 'POST',
    url: 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true',
    contentType: 'application/x-www-form-urlencoded',
    body: 'status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21',
    consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
    consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
    token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
    tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
    signatureMethod: 'HMAC-SHA1',
    nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
    timestamp: '1318622958',
    includeVersion: true,
    placement: 'header',
  }

  it('reproduces the guide’s base string and hCtSmYh+iHYCEqBWrE7C7hYmtUk=', () => {
    const r = signRequest(input)
    expect(r.baseString).toBe(
      'POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue' +
        '%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg' +
        '%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958' +
        '%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0' +
        '%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521',
    )
    expect(r.signature).toBe('hCtSmYh+iHYCEqBWrE7C7hYmtUk=')
    expect(r.authorizationHeader).toContain('oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"')
  })

  it('body placement puts the protocol parameters first in the form body and signs the same', () => {
    const r = signRequest({ ...input, placement: 'body' })
    expect(r.signature).toBe('hCtSmYh+iHYCEqBWrE7C7hYmtUk=')
    expect(r.authorizationHeader).toBeUndefined()
    expect(r.body?.startsWith('oauth_consumer_key=xvz1evFS4wEEPTGEFPHBog&')).toBe(true)
    expect(r.body?.endsWith(`&${String(input.body)}`)).toBe(true)
    expect(parseForm(r.body ?? '')).toContainEqual(['oauth_signature', 'hCtSmYh+iHYCEqBWrE7C7hYmtUk='])
  })

  it('query placement puts them before the existing query and signs the same', () => {
    const r = signRequest({ ...input, placement: 'query' })
    expect(r.signature).toBe('hCtSmYh+iHYCEqBWrE7C7hYmtUk=')
    expect(r.url).toMatch(/^https:\/\/api\.twitter\.com\/1\.1\/statuses\/update\.json\?oauth_consumer_key=/)
    expect(r.url).toMatch(/&include_entities=true$/)
    expect(r.url).toContain('&oauth_signature=hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D')
    expect(r.body).toBeUndefined()
  })

  it('query placement hands back the URL object it added them to: its own copy, never the caller\'s', () => {
    const callerUrl = new URL(String(input.url))
    const before = callerUrl.href
    const r = signRequest({ ...input, url: callerUrl, placement: 'query' })
    expect(r.queryUrl).toBeInstanceOf(URL)
    expect(r.queryUrl?.href).toBe(r.url)
    expect(r.queryUrl).not.toBe(callerUrl)
    expect(callerUrl.href).toBe(before)
    expect(signRequest({ ...input, placement: 'header' }).queryUrl).toBeUndefined()
  })
})

describe('signRequest behaviour', () => {
  const base: SignInput = {
    method: 'GET',
    url: 'https://api.example.com/v1/items?q=a+b#frag',
    consumerKey: 'ck',
    consumerSecret: 'c s&',
    signatureMethod: 'HMAC-SHA256',
    placement: 'header',
  }

  it('PLAINTEXT signature is enc(consumer secret)&enc(token secret) (RFC 5849 §3.4.4)', () => {
    const r = signRequest({ ...base, signatureMethod: 'PLAINTEXT', token: 't', tokenSecret: 'ä/' })
    expect(r.signature).toBe('c%20s%26&%C3%A4%2F')
  })

  it('generates a fresh 24-hex-digit nonce and a current timestamp', () => {
    const before = Math.floor(Date.now() / 1000)
    const a = signRequest(base)
    const b = signRequest(base)
    expect(a.oauthParams.oauth_nonce).toMatch(/^[0-9a-f]{24}$/)
    expect(a.oauthParams.oauth_nonce).not.toBe(b.oauthParams.oauth_nonce)
    const ts = Number(a.oauthParams.oauth_timestamp)
    expect(ts).toBeGreaterThanOrEqual(before)
    expect(ts).toBeLessThanOrEqual(before + 5)
  })

  it('orders protocol parameters with oauth_signature last and drops the fragment from the URL', () => {
    const r = signRequest({ ...base, token: 't', includeVersion: true, nonce: 'n', timestamp: '1', extraOAuthParams: { oauth_session_handle: 'h' } })
    expect(Object.keys(r.oauthParams)).toEqual([
      'oauth_consumer_key',
      'oauth_token',
      'oauth_signature_method',
      'oauth_timestamp',
      'oauth_nonce',
      'oauth_version',
      'oauth_session_handle',
      'oauth_signature',
    ])
    expect(r.url).toBe('https://api.example.com/v1/items?q=a+b')
    expect(r.baseString).toContain('oauth_session_handle%3Dh')
  })

  it('body placement of a non-form body is a GatewayError unsupported_payload', () => {
    const err = (() => {
      try {
        signRequest({ ...base, method: 'POST', placement: 'body', contentType: 'application/json', body: '{}' })
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).reason).toBe('unsupported_payload')
  })

  it('code misuse is a TypeError', () => {
    expect(() => signRequest({ ...base, signatureMethod: 'RSA-SHA1' })).toThrow(TypeError)
    expect(() => signRequest({ ...base, signatureMethod: 'RSA-SHA256', privateKey: 'not a pem' })).toThrow(TypeError)
    expect(() => signRequest({ ...base, consumerSecret: undefined })).toThrow(TypeError)
    expect(() => signRequest({ ...base, extraOAuthParams: { pin: '1' } })).toThrow(TypeError)
    expect(() => signRequest({ ...base, extraOAuthParams: { oauth_nonce: 'x' } })).toThrow(TypeError)
    expect(() => signRequest({ ...base, url: 'ftp://example.com/' })).toThrow(TypeError)
  })

  it('sends the realm as RFC 5849 §3.5.1 shows it (realm="http://sp.example.com/") and percent-encodes every value', () => {
    const r = signRequest({ ...base, realm: 'http://sp.example.com/', callback: 'oob', nonce: 'n', timestamp: '1' })
    expect(r.authorizationHeader).toMatch(/^OAuth realm="http:\/\/sp\.example\.com\/", oauth_consumer_key="ck", /)
    expect(r.authorizationHeader).toContain('oauth_callback="oob"')
  })
})

describe('realm in the Authorization header', () => {
  const base: SignInput = {
    method: 'GET', url: 'https://photos.example.net/photos', consumerKey: 'dpf43f3p2l4k3l03', consumerSecret: 'kd94hf93k423kf44',
    signatureMethod: 'HMAC-SHA1', nonce: 'n', timestamp: '1', placement: 'header',
  }

  it('is a plain RFC 2617 quoted-string (RFC 5849 §3.5.1 item 5), not percent-encoded', () => {
    const h = signRequest({ ...base, realm: 'Photos Inc./v1' }).authorizationHeader ?? ''
    expect(h.startsWith('OAuth realm="Photos Inc./v1", oauth_consumer_key="dpf43f3p2l4k3l03"')).toBe(true)
  })

  it('escapes a quote and a backslash inside the realm', () => {
    const h = signRequest({ ...base, realm: 'a"b\\c' }).authorizationHeader ?? ''
    expect(h.startsWith('OAuth realm="a\\"b\\\\c", ')).toBe(true)
  })
})
