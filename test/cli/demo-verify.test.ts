import { describe, expect, it } from 'vitest'
import { verifyHmacSha1 } from '../../scripts/demo-verify.js'

// The demo partner's verifier is an oracle for the gateway's signer, so it is itself checked
// against a published vector: RFC 5849 §1.2 (the photos.example.net request, header placement).
const RFC_1_2 = {
  method: 'GET',
  url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
  form: '',
  authorization: 'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
}

describe('the demo partner\'s own OAuth 1.0a verifier (scripts/demo-verify.ts)', () => {
  it('accepts RFC 5849 §1.2 with its secrets', () => {
    expect(verifyHmacSha1(RFC_1_2, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe(true)
  })

  it('refuses it with a wrong secret, another query, method or host, or another signature method', () => {
    expect(verifyHmacSha1(RFC_1_2, 'kd94hf93k423kf45', 'pfkkdhi9sl3r4s00')).toBe(false)
    expect(verifyHmacSha1(RFC_1_2, 'kd94hf93k423kf44', '')).toBe(false)
    expect(verifyHmacSha1({ ...RFC_1_2, url: RFC_1_2.url.replace('original', 'small') }, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe(false)
    expect(verifyHmacSha1({ ...RFC_1_2, method: 'POST' }, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe(false)
    expect(verifyHmacSha1({ ...RFC_1_2, url: RFC_1_2.url.replace('photos.example.net', 'photos.example.org') }, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe(false)
    expect(verifyHmacSha1({ ...RFC_1_2, authorization: RFC_1_2.authorization.replace('HMAC-SHA1', 'PLAINTEXT') }, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe(false)
  })
})
