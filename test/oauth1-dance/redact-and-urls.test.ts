/**
 * Pure pieces of the dance: what the profile test takes out of provider text, and how
 * the gateway names its own callback and authorize link.
 */
import { describe, expect, it } from 'vitest'
import type { Gateway, Profile } from '../../src/gateway/index.js'
import type { ProfileConfig } from '../../src/config/index.js'
import { redactProviderText, formatProfileTest } from '../../src/dance/index.js'
import { callbackUrlFor, gatewayBase, linkUrl, originFrom } from '../../src/dance/index.js'

function profile(over: Partial<ProfileConfig> = {}): Profile {
  const config: ProfileConfig = {
    name: 'p', index: 0, consumerKey: 'ck', consumerSecret: 's3cr/t+value', signatureMethod: 'HMAC-SHA1', tenancy: false, version: true, bodyHash: false,
    placement: 'header', token: { mode: 'per_user' }, additionalFields: {}, userFields: [], fields: [], ...over,
  }
  return { name: config.name, config, fields: [] }
}

const gateway = (publicUrl?: string): Gateway => ({ config: { listen: { host: '0.0.0.0', port: 8080, ...(publicUrl ? { publicUrl } : {}) } } }) as unknown as Gateway

describe('redactProviderText', () => {
  it('removes the consumer secret (raw and percent-encoded), token secrets, signatures and verifiers', () => {
    const p = profile()
    const text = 'bad secret s3cr/t+value or s3cr%2Ft%2Bvalue; oauth_token=abc&oauth_token_secret=XYZ&oauth_signature=SIG%3D {"oauth_verifier": "VVV"} oauth_signature="Q"'
    const out = redactProviderText(p, text)
    for (const secret of ['s3cr/t+value', 's3cr%2Ft%2Bvalue', 'XYZ', 'SIG%3D', 'VVV', '"Q"']) expect(out).not.toContain(secret)
    expect(out).toContain('oauth_token=abc')
    expect(out).toContain('oauth_token_secret=[redacted]')
  })

  it('formats a failure without a response when the provider was never reached', () => {
    const text = formatProfileTest({ ok: false, profile: 'p', message: 'endpoint "x": client certificate rejected by the server' })
    expect(text).toMatch(/^Auth Test Failed\n.*\n\nHeaders\n {2}\(no response/)
    expect(text).toContain('\nResponse\n  (none)')
  })
})

describe('gateway URLs', () => {
  it('publicUrl wins, then the profile callbackUrl, then the request origin', () => {
    expect(gatewayBase(gateway('https://gw.example'), profile(), 'http://10.0.0.1:8080')).toBe('https://gw.example')
    expect(gatewayBase(gateway(), profile({ callbackUrl: 'https://pub.example/base/gateway/oauth1/callback' }), 'http://x')).toBe('https://pub.example/base')
    expect(gatewayBase(gateway(), profile(), 'http://10.0.0.1:8080')).toBe('http://10.0.0.1:8080')
    expect(callbackUrlFor(gateway(), profile({ callbackUrl: 'https://{tenant}.example/gateway/oauth1/callback' }), 'acme', undefined)).toBe('https://acme.example/gateway/oauth1/callback')
    expect(callbackUrlFor(gateway(), profile(), undefined, undefined)).toBeUndefined()
    expect(linkUrl(gateway(), profile(), 'abc', undefined)).toBe('/gateway/oauth1/p/authorize?link=abc')
  })

  it('a Host header that is not a plain host[:port] is not used', () => {
    expect(originFrom('gw.example:8443', true)).toBe('https://gw.example:8443')
    expect(originFrom('[::1]:80', false)).toBe('http://[::1]:80')
    expect(originFrom('evil.example/path', false)).toBeUndefined()
    expect(originFrom('a b', false)).toBeUndefined()
  })
})
