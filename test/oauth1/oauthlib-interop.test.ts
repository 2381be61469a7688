/**
 * Interop with a verifier nobody here wrote: python3-oauthlib 3.2.2 (Debian) behind
 * test/peers/oauth1_provider.py. Every signature method × every placement, plus failures.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIGNATURE_METHODS, PLACEMENTS, signRequest, type Placement, type SignInput, type SignatureMethod } from '../../src/oauth1/index.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { send, type TestResponse } from './http-client.js'
import { DOCUMENTED_BODY_HASH_DIGEST, pythonBodyHash } from '../support/python-body-hash.js'

// oauthlib's default validator wants keys, tokens and nonces of 20–30 letters and digits.
const CONSUMER = { key: 'gatewayconsumerkey0001', secret: 'kd94hf93k423kf44-consumer_secret.~' }
const TOKEN = { token: 'accesstoken0123456789ab', secret: 'pfkkdhi9sl3r4s00-token_secret.~' }
const RSA = generateKeyPairSync('rsa', { modulusLength: 2048 })
const FORM = 'application/x-www-form-urlencoded'

let provider: OAuth1Provider

beforeAll(async () => {
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret, rsa_public_key: RSA.publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
    access_tokens: [{ client_key: CONSUMER.key, token: TOKEN.token, secret: TOKEN.secret }],
  })
})

afterAll(async () => {
  await provider?.close()
})

function credentials(method: SignatureMethod): Pick<SignInput, 'consumerKey' | 'consumerSecret' | 'token' | 'tokenSecret' | 'privateKey' | 'signatureMethod'> {
  return {
    consumerKey: CONSUMER.key,
    consumerSecret: CONSUMER.secret,
    token: TOKEN.token,
    tokenSecret: TOKEN.secret,
    privateKey: method.startsWith('RSA-') ? RSA.privateKey : undefined,
    signatureMethod: method,
  }
}

/** Signs and sends one request the way each placement prescribes (RFC 5849 §3.5). */
async function signAndSend(input: SignInput): Promise<TestResponse> {
  const signed = signRequest(input)
  const headers: Record<string, string> = {}
  if (input.contentType !== undefined) headers['content-type'] = input.contentType
  if (signed.authorizationHeader !== undefined) headers.authorization = signed.authorizationHeader
  const body = signed.body ?? input.body
  if (input.placement === 'body' && input.contentType === undefined) headers['content-type'] = FORM
  return send(input.method, signed.url, headers, body)
}

const SIGNATURE_TYPE: Record<Placement, string> = { header: 'AUTH_HEADER', query: 'QUERY', body: 'BODY' }

describe.each(SIGNATURE_METHODS.map((m) => [m]))('oauthlib accepts %s', (method) => {
  it.each(PLACEMENTS.map((p) => [p]))('GET with a query string, parameters in the %s', async (placement) => {
    const url = `${provider.url}/resource/items?q=hello world&tag=a+b&empty=&dup=2&dup=1&uni=é~`
    const res = await signAndSend({
      ...credentials(method),
      method: 'GET',
      url,
      placement,
      // §3.5.2 needs a form body to carry the parameters, even on GET.
      ...(placement === 'body' ? { contentType: FORM, body: '' } : {}),
    })
    expect(res.status, res.text).toBe(200)
    expect(res.json).toMatchObject({ ok: true, signature_method: method, signature_type: SIGNATURE_TYPE[placement], token: TOKEN.token })
    expect(res.json.params).toEqual(
      expect.arrayContaining([
        ['q', 'hello world'],
        ['tag', 'a b'],
        ['empty', ''],
        ['dup', '2'],
        ['dup', '1'],
        ['uni', 'é~'],
      ]),
    )
  })

  it.each(PLACEMENTS.map((p) => [p]))('form POST, parameters in the %s', async (placement) => {
    const res = await signAndSend({
      ...credentials(method),
      method: 'POST',
      url: `${provider.url}/resource/form?x=1`,
      contentType: `${FORM}; charset=utf-8`,
      body: 'name=J%C3%BCrgen+M&note=a%26b%3Dc&empty=&dup=1&dup=1',
      placement,
    })
    expect(res.status, res.text).toBe(200)
    expect(res.json).toMatchObject({ ok: true, signature_type: SIGNATURE_TYPE[placement], body_hash_verified: false })
    expect(res.json.params).toEqual(expect.arrayContaining([['x', '1'], ['name', 'Jürgen M'], ['note', 'a&b=c'], ['empty', '']]))
  })
})

describe('oauth_body_hash on a JSON POST (checked by the provider: oauthlib 3.2.2 does not)', () => {
  const json = JSON.stringify({ amount: 12.5, note: 'café & crème' })

  it.each([['HMAC-SHA1'], ['HMAC-SHA256'], ['HMAC-SHA512'], ['RSA-SHA1'], ['RSA-SHA256'], ['PLAINTEXT']] as const)(
    '%s: the body hash is signed, sent and matches the body',
    async (method) => {
      const res = await signAndSend({ ...credentials(method), method: 'POST', url: `${provider.url}/resource/json`, contentType: 'application/json', body: json, bodyHash: true, placement: 'header' })
      expect(res.status, res.text).toBe(200)
      expect(res.json).toMatchObject({ ok: true, body_hash_verified: true, body: json })
      // The value oauthlib saw signed, against Python's hashlib with the digest the docs name.
      const received = (res.json as { oauth_params: Record<string, string> }).oauth_params.oauth_body_hash
      expect(received).toBe(pythonBodyHash(DOCUMENTED_BODY_HASH_DIGEST[method], json))
    },
  )

  it('a body changed after signing is refused', async () => {
    const signed = signRequest({ ...credentials('HMAC-SHA256'), method: 'POST', url: `${provider.url}/resource/json`, contentType: 'application/json', body: json, bodyHash: true, placement: 'header' })
    const res = await send('POST', signed.url, { 'content-type': 'application/json', authorization: signed.authorizationHeader ?? '' }, json.replace('12.5', '99.5'))
    expect(res.status).toBe(401)
    expect(res.json).toMatchObject({ ok: false, error: 'invalid_body_hash' })
  })
})

describe('oauthlib refuses what it should', () => {
  const get = (over: Partial<SignInput>): Promise<TestResponse> =>
    signAndSend({ ...credentials('HMAC-SHA1'), method: 'GET', url: `${provider.url}/resource/x?a=1`, placement: 'header', ...over })

  it('wrong consumer secret → 401 for the signature alone', async () => {
    const res = await get({ consumerSecret: 'not-the-secret' })
    expect(res.status).toBe(401)
    expect(res.json).toMatchObject({ ok: false, validator_log: { client: true, resource_owner: true, signature: false } })
  })

  it('wrong token secret → 401, unknown token → 401, unknown consumer → 401', async () => {
    expect((await get({ tokenSecret: 'wrong' })).status).toBe(401)
    expect((await get({ token: 'unknowntoken0123456789' })).status).toBe(401)
    expect((await get({ consumerKey: 'unknownconsumer0123456' })).status).toBe(401)
  })

  it('RSA signature made with another key → 401', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    expect((await get({ signatureMethod: 'RSA-SHA256', privateKey: other })).status).toBe(401)
  })

  it('a replayed nonce → 401, and a stale timestamp names the reason', async () => {
    const nonce = 'replaynonce0123456789ab'
    const timestamp = String(Math.floor(Date.now() / 1000))
    expect((await get({ nonce, timestamp })).status).toBe(200)
    const replay = await get({ nonce, timestamp })
    expect(replay.status).toBe(401)
    expect(replay.json.description).toBe('invalid timestamp/nonce (replay?)')
    const stale = await get({ timestamp: String(Math.floor(Date.now() / 1000) - 3600) })
    expect(stale.status).toBe(401)
    expect(String(stale.json.description)).toMatch(/Timestamp/)
  })

  it('oauthlib refuses raw query characters WHATWG URL leaves unescaped ("[", "|") → 400', async () => {
    const res = await get({ url: `${provider.url}/resource/x?f=[a]|b` })
    expect(res.status).toBe(400)
    expect(String(res.json.description)).toMatch(/non urlencoded/)
  })

  it('a parameter changed after signing → 401', async () => {
    const signed = signRequest({ ...credentials('HMAC-SHA256'), method: 'GET', url: `${provider.url}/resource/x?amount=1`, placement: 'query' })
    const res = await send('GET', signed.url.replace('amount=1', 'amount=2'))
    expect(res.status).toBe(401)
  })
})

describe('two-legged (no token) on the signature-only endpoint', () => {
  it.each(SIGNATURE_METHODS.map((m) => [m]))('%s', async (method) => {
    const res = await signAndSend({ ...credentials(method), token: undefined, tokenSecret: undefined, method: 'GET', url: `${provider.url}/signature-only/ping?x=y`, placement: 'header', realm: 'test' })
    expect(res.status, res.text).toBe(200)
    expect(res.json).toMatchObject({ ok: true, endpoint: 'signature-only', token: null, realm: 'test' })
  })
})

describe('python-oauthlib 3.2.2 quirk: oauth_* values are percent-decoded twice in query and body', () => {
  // oauthlib's collect_parameters() unescapes oauth_* values again after urldecode(). A PLAINTEXT
  // signature of secrets with reserved characters contains "%XX", which that second decode
  // corrupts, so only the header placement (decoded once) verifies. The signer is right (§3.5).
  const reserved = { consumerSecret: 'c s&=', tokenSecret: 't/s' }
  let quirky: OAuth1Provider
  beforeAll(async () => {
    quirky = await startOAuth1Provider({
      clients: [{ key: CONSUMER.key, secret: reserved.consumerSecret }],
      access_tokens: [{ client_key: CONSUMER.key, token: TOKEN.token, secret: reserved.tokenSecret }],
    })
  })
  afterAll(async () => {
    await quirky?.close()
  })

  it('HMAC with reserved characters in the secrets verifies in every placement', async () => {
    for (const placement of PLACEMENTS) {
      const res = await signAndSend({ ...credentials('HMAC-SHA1'), ...reserved, method: 'POST', url: `${quirky.url}/resource/q`, contentType: FORM, body: 'a=1', placement })
      expect(res.status, `${placement}: ${res.text}`).toBe(200)
    }
  })

  it('PLAINTEXT with reserved characters: header verifies, query does not', async () => {
    const input = { ...credentials('PLAINTEXT'), ...reserved, method: 'GET', url: `${quirky.url}/resource/q` }
    expect((await signAndSend({ ...input, placement: 'header' })).status).toBe(200)
    const query = await signAndSend({ ...input, placement: 'query' })
    expect(query.status).toBe(401)
    expect(query.json.validator_log).toEqual({ client: true, resource_owner: true, realm: true, signature: false })
  })
})
