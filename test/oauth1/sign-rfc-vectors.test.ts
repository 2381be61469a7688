import { describe, expect, it } from 'vitest'
import { computeSignature, signRequest } from '../../src/oauth1/index.js'

// RFC 5849 §1.2 ("Example"): client dpf43f3p2l4k3l03 / kd94hf93k423kf44, realm "Photos".
// Source: https://www.rfc-editor.org/rfc/rfc5849#section-1.2. All three published signatures
// reproduce when each request uses the scheme the RFC gives it (the two credential requests
// are HTTPS, the photo request is plain HTTP — `GET /photos` with `Host: photos.example.net`);
// computing /initiate over http instead gives mIPx9sQqO97OuihOwUEyB7c4/GI=, not the RFC value.
// `tR3+Ty81lMeYAr/Fid0kMTYa/WM=` is not a §1.2 value: it belongs to OAuth Core 1.0a Appendix A.5
// (nonce kllo9940pd9333jh, oauth_version=1.0), tested separately below.
const PHOTOS = { consumerKey: 'dpf43f3p2l4k3l03', consumerSecret: 'kd94hf93k423kf44', realm: 'Photos' }

describe('RFC 5849 §1.2 example', () => {
  it('temporary credential request: POST https://photos.example.net/initiate', () => {
    const r = signRequest({
      ...PHOTOS,
      method: 'POST',
      url: 'https://photos.example.net/initiate',
      signatureMethod: 'HMAC-SHA1',
      callback: 'http://printer.example.com/ready',
      timestamp: '137131200',
      nonce: 'wIjqoS',
      placement: 'header',
    })
    expect(r.signature).toBe('74KNZJeDHnMBp0EMJ9ZHt/XKycU=')
    // Same parameters and encoding as the RFC's header; we separate them with ", " (§3.5.1 allows LWS).
    expect(r.authorizationHeader).toBe(
      'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_signature_method="HMAC-SHA1", ' +
        'oauth_timestamp="137131200", oauth_nonce="wIjqoS", ' +
        'oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready", oauth_signature="74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D"',
    )
  })

  it('token request: POST https://photos.example.net/token with the verifier', () => {
    const r = signRequest({
      ...PHOTOS,
      method: 'POST',
      url: 'https://photos.example.net/token',
      token: 'hh5s93j4hdidpola',
      tokenSecret: 'hdhd0244k9j7ao03',
      signatureMethod: 'HMAC-SHA1',
      verifier: 'hfdp7dh39dks9884',
      timestamp: '137131201',
      nonce: 'walatlh',
      placement: 'header',
    })
    expect(r.authorizationHeader).toBe(
      'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="hh5s93j4hdidpola", ' +
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="walatlh", ' +
        'oauth_verifier="hfdp7dh39dks9884", oauth_signature="gKgrFCywp7rO0OXSjdot%2FIHF7IU%3D"',
    )
  })

  it('protected resource: GET http://photos.example.net/photos?file=vacation.jpg&size=original', () => {
    const r = signRequest({
      ...PHOTOS,
      method: 'GET',
      url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      signatureMethod: 'HMAC-SHA1',
      timestamp: '137131202',
      nonce: 'chapoH',
      placement: 'header',
    })
    expect(r.signature).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=')
    expect(r.authorizationHeader).toBe(
      'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", ' +
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", ' +
        'oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
    )
    expect(r.url).toBe('http://photos.example.net/photos?file=vacation.jpg&size=original')
  })
})

describe('OAuth Core 1.0a Appendix A / OAuth wiki TestCases', () => {
  // Sources: OAuth Core 1.0 Revision A, Appendix A.5.1 (base string) and A.5.2 (signature),
  // https://oauth.net/core/1.0a/#anchor30; identical row in the OAuth wiki "TestCases",
  // "HMAC-SHA1 (section 9.2)", http://wiki.oauth.net/w/page/12238556/TestCases.
  it('A.5: GET photos with oauth_version → tR3+Ty81lMeYAr/Fid0kMTYa/WM=', () => {
    const r = signRequest({
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      method: 'GET',
      url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
      signatureMethod: 'HMAC-SHA1',
      timestamp: '1191242096',
      nonce: 'kllo9940pd9333jh',
      includeVersion: true,
      placement: 'header',
    })
    expect(r.baseString).toBe(
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03' +
        '%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096' +
        '%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal',
    )
    expect(r.signature).toBe('tR3+Ty81lMeYAr/Fid0kMTYa/WM=')
  })

  // Source: OAuth wiki "TestCases", "HMAC-SHA1 (section 9.2)", first two rows.
  it.each([
    ['cs', undefined, 'bs', 'egQqG5AJep5sJ7anhXju1unge2I='],
    ['cs', 'ts', 'bs', 'VZVjXceV7JgPq/dOTnNmEfO0Fv8='],
  ])('wiki TestCases §9.2: HMAC-SHA1(%s&%s, %s) = %s', (consumerSecret, tokenSecret, base, expected) => {
    expect(computeSignature('HMAC-SHA1', base, { consumerSecret, tokenSecret })).toBe(expected)
  })

  // Source: OAuth Core 1.0a Appendix A.2 "Obtaining a Request Token" (PLAINTEXT over HTTPS):
  // https://photos.example.net/request_token?oauth_consumer_key=dpf43f3p2l4k3l03
  //   &oauth_signature_method=PLAINTEXT&oauth_signature=kd94hf93k423kf44%26
  //   &oauth_timestamp=1191242090&oauth_nonce=hsu94j3884jdopsl&oauth_version=1.0
  //   &oauth_callback=http%3A%2F%2Fprinter.example.com%2Frequest_token_ready
  // (OAuth Core 1.0 Appendix A.2 is the same request without oauth_callback.)
  it('A.2: PLAINTEXT request token in the query → oauth_signature=kd94hf93k423kf44%26', () => {
    const r = signRequest({
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      method: 'POST',
      url: 'https://photos.example.net/request_token',
      signatureMethod: 'PLAINTEXT',
      timestamp: '1191242090',
      nonce: 'hsu94j3884jdopsl',
      includeVersion: true,
      callback: 'http://printer.example.com/request_token_ready',
      placement: 'query',
    })
    const published =
      'oauth_consumer_key=dpf43f3p2l4k3l03&oauth_signature_method=PLAINTEXT&oauth_signature=kd94hf93k423kf44%26' +
      '&oauth_timestamp=1191242090&oauth_nonce=hsu94j3884jdopsl&oauth_version=1.0' +
      '&oauth_callback=http%3A%2F%2Fprinter.example.com%2Frequest_token_ready'
    const url = new URL(r.url)
    expect(url.origin + url.pathname).toBe('https://photos.example.net/request_token')
    expect(url.search.slice(1).split('&').sort()).toEqual(published.split('&').sort())
  })
})

