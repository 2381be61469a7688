/**
 * A static token's header signature (the realistic proxy path) makes its protocol parameters
 * (`oauthParams`) only when they are read: the proxy reads the header alone, and the copy and
 * freeze were 4 % of a signature (docs/performance.md, session 51). Read, they are what the
 * general way gives: the same values in the same order, frozen, the same object each read.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createSigner, type SignerStatics } from '../../src/oauth1/index.js'

const statics: SignerStatics = { consumerKey: 'ck-bench', consumerSecret: 's3cr3t-consumer', signatureMethod: 'HMAC-SHA1', includeVersion: true, placement: 'header' }
const request = { method: 'GET', url: 'https://api.example.com/v1/items?b=2&a=1', token: 'tk-static', tokenSecret: 'tk-secret', timestamp: '1318622958', nonce: 'kllo9940pd9333jh' }

afterEach(() => vi.restoreAllMocks())

describe("a prepared token's header signature", () => {
  it('copies and freezes no protocol parameters unless they are read', () => {
    const signer = createSigner(statics)
    signer.sign(request)
    signer.sign(request) // prepared from here on
    const freeze = vi.spyOn(Object, 'freeze')
    const headers = [signer.sign(request), signer.sign(request)].map((r) => r.authorizationHeader)
    const frozen = freeze.mock.calls.length
    vi.restoreAllMocks()
    expect(frozen).toBe(0)
    expect(headers[0]).toMatch(/^OAuth oauth_consumer_key="ck-bench", .*oauth_signature="[^"]+"$/)
  })

  it('gives, when read, the general way’s parameters: same order, frozen, one object', () => {
    const signer = createSigner(statics)
    const general = createSigner(statics, false).sign(request)
    signer.sign(request)
    const r = signer.sign(request)
    expect(r.authorizationHeader).toBe(general.authorizationHeader)
    expect(r.signature).toBe(general.signature)
    expect(r.baseString).toBe(general.baseString)
    expect(r.url).toBe(general.url)
    expect(Object.entries(r.oauthParams)).toEqual(Object.entries(general.oauthParams))
    expect(Object.isFrozen(r.oauthParams)).toBe(true)
    expect(r.oauthParams).toBe(r.oauthParams)
  })
})
