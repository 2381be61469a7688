import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signRequest, type SignInput } from '../../src/oauth1/index.js'
import { WIKI_CERTIFICATE, WIKI_PRIVATE_KEY, WIKI_RSA_SIGNATURE } from '../support/oauth1-wiki-vectors.js'

const wikiRequest: SignInput = {
  method: 'GET',
  url: 'http://photos.example.net/photos?file=vacaction.jpg&size=original',
  consumerKey: 'dpf43f3p2l4k3l03',
  signatureMethod: 'RSA-SHA1',
  privateKey: WIKI_PRIVATE_KEY,
  nonce: '13917289812797014437',
  timestamp: '1196666512',
  includeVersion: true,
  placement: 'header',
}

describe('RSA-SHA1 / RSA-SHA256', () => {
  it('wiki TestCases §9.3: reproduces the published base string and RSA-SHA1 signature', () => {
    const r = signRequest(wikiRequest)
    expect(r.baseString).toBe(
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacaction.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03' +
        '%26oauth_nonce%3D13917289812797014437%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1196666512' +
        '%26oauth_version%3D1.0%26size%3Doriginal',
    )
    expect(r.signature).toBe(WIKI_RSA_SIGNATURE)
  })

  it('the published certificate’s public key verifies our RSA-SHA1 signature', () => {
    const r = signRequest({ ...wikiRequest, privateKey: createPrivateKey(WIKI_PRIVATE_KEY) })
    const publicKey = new X509Certificate(WIKI_CERTIFICATE).publicKey
    expect(verify('sha1', Buffer.from(r.baseString), publicKey, Buffer.from(r.signature, 'base64'))).toBe(true)
  })

  it('RSA-SHA256 signs the base string with RSASSA-PKCS1-v1_5/SHA-256 (verified with the public key)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    const r = signRequest({ ...wikiRequest, signatureMethod: 'RSA-SHA256', privateKey: pem, nonce: undefined })
    expect(r.oauthParams.oauth_signature_method).toBe('RSA-SHA256')
    const sig = Buffer.from(r.signature, 'base64')
    expect(sig).toHaveLength(256)
    expect(verify('sha256', Buffer.from(r.baseString), publicKey, sig)).toBe(true)
    expect(verify('sha1', Buffer.from(r.baseString), publicKey, sig)).toBe(false)
    const otherPublic = createPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
    expect(verify('sha256', Buffer.from(r.baseString), otherPublic, sig)).toBe(false)
  })

  it('refuses a non-RSA private key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(() => signRequest({ ...wikiRequest, privateKey })).toThrow(TypeError)
  })
})

describe('oauth_body_hash (OAuth Request Body Hash draft)', () => {
  // Source: "OAuth Request Body Hash" (draft-eaton-oauth-bodyhash-00, B. Eaton et al., 2009),
  // Appendix A.1 (PUT text/plain "Hello World!") and A.2 (GET with no body); base strings as
  // published there (transcribed in the oauthenticator gem's test suite).
  const draft = {
    url: 'http://www.example.com/resource',
    consumerKey: 'consumer',
    consumerSecret: 'secret-not-given-in-the-draft',
    token: 'token',
    tokenSecret: 'secret-not-given-in-the-draft',
    signatureMethod: 'HMAC-SHA1',
    includeVersion: true,
    bodyHash: true,
    placement: 'header',
  } as const

  it('A.1: PUT "Hello World!" → oauth_body_hash=Lve95gjOVATpfV8EL5X4nxwjKHE=, signed in the base string', () => {
    const r = signRequest({ ...draft, method: 'PUT', contentType: 'text/plain', body: 'Hello World!', timestamp: '1236874236', nonce: '10369470270925' })
    expect(r.oauthParams.oauth_body_hash).toBe('Lve95gjOVATpfV8EL5X4nxwjKHE=')
    expect(r.baseString).toBe(
      'PUT&http%3A%2F%2Fwww.example.com%2Fresource&oauth_body_hash%3DLve95gjOVATpfV8EL5X4nxwjKHE%253D' +
        '%26oauth_consumer_key%3Dconsumer%26oauth_nonce%3D10369470270925%26oauth_signature_method%3DHMAC-SHA1' +
        '%26oauth_timestamp%3D1236874236%26oauth_token%3Dtoken%26oauth_version%3D1.0',
    )
  })

  it('A.2: GET without a body hashes the empty string → 2jmj7l5rSw0yVb/vlWAYkK/YBwk=', () => {
    const r = signRequest({ ...draft, method: 'GET', timestamp: '1238395022', nonce: '8628868109991' })
    expect(r.baseString).toBe(
      'GET&http%3A%2F%2Fwww.example.com%2Fresource&oauth_body_hash%3D2jmj7l5rSw0yVb%252FvlWAYkK%252FYBwk%253D' +
        '%26oauth_consumer_key%3Dconsumer%26oauth_nonce%3D8628868109991%26oauth_signature_method%3DHMAC-SHA1' +
        '%26oauth_timestamp%3D1238395022%26oauth_token%3Dtoken%26oauth_version%3D1.0',
    )
  })

  it('hashes a JSON body with the signature method’s digest (SHA-256 for HMAC-SHA256, SHA-512 for HMAC-SHA512)', () => {
    const body = Buffer.from(JSON.stringify({ amount: 12.5, note: 'café' }))
    const json = { ...draft, method: 'POST', contentType: 'application/json', body }
    expect(signRequest({ ...json, signatureMethod: 'HMAC-SHA256' }).oauthParams.oauth_body_hash).toBe(
      createHash('sha256').update(body).digest('base64'),
    )
    expect(signRequest({ ...json, signatureMethod: 'HMAC-SHA512' }).oauthParams.oauth_body_hash).toBe(
      createHash('sha512').update(body).digest('base64'),
    )
    expect(signRequest({ ...json, signatureMethod: 'PLAINTEXT' }).oauthParams.oauth_body_hash).toBe(
      createHash('sha1').update(body).digest('base64'),
    )
  })

  it('is never added to a form-encoded request (the draft forbids it; the body is signed as parameters)', () => {
    const r = signRequest({ ...draft, method: 'POST', contentType: 'application/x-www-form-urlencoded; charset=utf-8', body: 'a=1' })
    expect(r.oauthParams).not.toHaveProperty('oauth_body_hash')
    expect(r.baseString).toContain('a%3D1')
  })

  it('is absent unless asked for', () => {
    const r = signRequest({ ...draft, bodyHash: false, method: 'POST', contentType: 'application/json', body: '{}' })
    expect(r.oauthParams).not.toHaveProperty('oauth_body_hash')
  })
})
