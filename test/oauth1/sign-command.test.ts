import { describe, expect, it } from 'vitest'
import { runSignCommand, type SignCommandOptions } from '../../src/oauth1/index.js'

// Source: RFC 5849 §1.2, the protected-resource request
//   GET /photos?file=vacation.jpg&size=original   Host: photos.example.net
// with oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D" (https://www.rfc-editor.org/rfc/rfc5849#section-1.2).
const RFC_1_2: SignCommandOptions = {
  method: 'GET',
  url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
  consumerKey: 'dpf43f3p2l4k3l03',
  consumerSecret: 'kd94hf93k423kf44',
  token: 'nnch734d00sl2jdk',
  tokenSecret: 'pfkkdhi9sl3r4s00',
  signatureMethod: 'HMAC-SHA1',
  placement: 'header',
  realm: 'Photos',
  nonce: 'chapoH',
  timestamp: '137131202',
}

describe('runSignCommand', () => {
  it('prints the base string, the signature and the Authorization header of RFC 5849 §1.2', () => {
    const lines = runSignCommand(RFC_1_2).split('\n')
    expect(lines[0]).toBe('Signature base string:')
    expect(lines[1]).toBe(
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03' +
        '%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202' +
        '%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal',
    )
    expect(lines).toContain('Signature (HMAC-SHA1):')
    expect(lines).toContain('MdpQcU8iPSUjWoN/UDMsK2sui9I=')
    expect(lines).toContain(
      'Authorization: OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", ' +
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", ' +
        'oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
    )
  })

  it('prints the signed URL for query placement', () => {
    const out = runSignCommand({ ...RFC_1_2, placement: 'query' })
    expect(out).toContain('Signed URL:\nhttp://photos.example.net/photos?oauth_consumer_key=')
    expect(out).toMatch(/&oauth_signature=MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D&file=vacation\.jpg&size=original$/m)
    expect(out).not.toContain('Authorization:')
  })

  it('prints the signed body for body placement', () => {
    const out = runSignCommand({
      ...RFC_1_2,
      method: 'POST',
      url: 'http://photos.example.net/photos',
      body: 'file=vacation.jpg&size=original',
      contentType: 'application/x-www-form-urlencoded',
      placement: 'body',
    })
    expect(out).toContain('Signed body:\noauth_consumer_key=dpf43f3p2l4k3l03&')
    expect(out).toMatch(/^oauth_consumer_key=.*&oauth_signature=[^&]+&file=vacation\.jpg&size=original$/m)
  })

  it('reads the RSA key through the injected reader and labels PLAINTEXT base strings as unused', () => {
    const paths: string[] = []
    expect(() =>
      runSignCommand({ ...RFC_1_2, signatureMethod: 'RSA-SHA1', keyFile: '/keys/k.pem' }, (p) => {
        paths.push(p)
        return 'not a key'
      }),
    ).toThrow(TypeError)
    expect(paths).toEqual(['/keys/k.pem'])
    expect(runSignCommand({ ...RFC_1_2, signatureMethod: 'PLAINTEXT' })).toMatch(
      /^Signature base string \(not used by PLAINTEXT\):[\s\S]*\nkd94hf93k423kf44&pfkkdhi9sl3r4s00\n/,
    )
  })
})
