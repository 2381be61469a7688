/**
 * The signer's two results. What the proxy sends (`signToSend`, SignatureToSend) has no protocol
 * parameters at all, so no copy of it can lose them and a static token's signature makes no
 * parameter object (its copy and freeze were 7 % of a signature: docs/performance.md, sessions 51
 * and 52). The whole result (`sign`: the `sign` command's, the public API's) is a plain object whose
 * pieces, `oauthParams` among them, survive a spread and JSON, on the prepared way as on the general one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createSigner, type Placement, type SignatureToSend, type SignerStatics, type SignResult } from '../../src/oauth1/index.js'
import type { Profile } from '../../src/gateway/profiles.js'

const statics = (placement: Placement): SignerStatics => ({ consumerKey: 'ck-bench', consumerSecret: 's3cr3t-consumer', signatureMethod: 'HMAC-SHA1', includeVersion: true, realm: 'Photos "Inc."', placement })
const request = { method: 'GET', url: 'https://api.example.com/v1/items?b=2&a=1', contentType: 'application/x-www-form-urlencoded', token: 'tk-static', tokenSecret: 'tk-secret', timestamp: '1318622958', nonce: 'kllo9940pd9333jh' }
const PLACEMENTS: readonly Placement[] = ['header', 'query', 'body']

afterEach(() => vi.restoreAllMocks())

// Compiled by tsconfig.tests.json: the proxy's result never had oauthParams to spread away.
type ProxyResult = ReturnType<Profile['signer']['signToSend']>
function proxyCopy(sent: ProxyResult): SignatureToSend {
  const copy = { ...sent }
  // @ts-expect-error the proxy's result has no protocol parameters
  void copy.oauthParams
  // @ts-expect-error nor a signature to read from it
  void copy.signature
  return copy
}
function wholeCopy(result: SignResult): Readonly<Record<string, string>> {
  return { ...result }.oauthParams
}

describe("what the proxy sends of a static token's signature", () => {
  it.each(PLACEMENTS)('%s placement: no protocol parameter object made or frozen', (placement) => {
    const signer = createSigner(statics(placement))
    signer.signToSend(request)
    signer.signToSend(request) // prepared from here on
    const freeze = vi.spyOn(Object, 'freeze')
    const assign = vi.spyOn(Object, 'assign')
    const sent = [signer.signToSend(request), signer.signToSend(request)]
    const calls = freeze.mock.calls.length + assign.mock.calls.length
    vi.restoreAllMocks()
    expect(calls).toBe(0)
    for (const s of sent) expect(Object.keys(s)).toEqual([placement === 'header' ? 'authorizationHeader' : placement === 'query' ? 'queryUrl' : 'body'])
  })

  it.each(PLACEMENTS)('%s placement: what the general way sends, byte for byte', (placement) => {
    const general = createSigner(statics(placement), false).sign(request)
    const signer = createSigner(statics(placement))
    for (const sent of [signer.signToSend(request), signer.signToSend(request), signer.signToSend(request)].map(proxyCopy)) {
      expect({ authorizationHeader: sent.authorizationHeader, queryUrl: sent.queryUrl?.href, body: sent.body }).toEqual({ authorizationHeader: general.authorizationHeader, queryUrl: general.queryUrl?.href, body: general.body })
    }
  })
})

// Query and body placement's whole results, prepared and general, are compared entry by entry in signing-shortcuts.test.ts.
describe("a static token's whole result", () => {
  it('header placement: a plain object whose oauthParams survive a spread and JSON', () => {
    const general = createSigner(statics('header'), false).sign(request)
    const signer = createSigner(statics('header'))
    signer.sign(request)
    const r = signer.sign(request) // the prepared way
    expect(Object.keys(r)).toEqual(Object.keys(general))
    expect(Object.keys({ ...r })).toEqual(Object.keys(general))
    expect(Object.getPrototypeOf(r) === Object.prototype).toBe(true)
    expect(Object.entries(wholeCopy(r) ?? {})).toEqual(Object.entries(general.oauthParams))
    expect(JSON.parse(JSON.stringify(r))).toEqual(JSON.parse(JSON.stringify(general)))
    expect(Object.isFrozen(r.oauthParams)).toBe(true)
    expect({ ...r }).toEqual(general)
  })
})
