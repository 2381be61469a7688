import { generateKeyPairSync } from 'node:crypto'
import { configProblems } from '../support/config-problems.js'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import {
  authFailureLabel, authorizeEndpoint, compileCallerApps, compileGatewayKeys, exchangeAssertion, publicJwks,
  verifyCallerAssertion, type AssertionOptions, type Caller,
} from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { AUDIENCE, claims, HS_SECRET, nowMs, pythonJwe, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const gw = rsaPair()
const apps = testApps(rs)

const problems = configProblems

describe('compileCallerApps', () => {
  it('imports keys once and compiles endpoint rules', () => {
    const app = apps.get('rs-app')
    expect(app?.alg).toBe('RS256')
    expect(app?.key.type).toBe('public')
    expect(app?.anyEndpoint).toBe(true)
    expect(apps.get('hs-app')).toMatchObject({ alg: 'HS256', anyEndpoint: false, allowRsa15Jwe: false })
    expect(apps.get('hs-app')?.key.type).toBe('secret')
  })
  it('reports every problem with its key path', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const got = problems(() =>
      compileCallerApps([
        { clientId: 'a', endpoints: [], audience: AUDIENCE },
        { clientId: 'b', hs256Secret: HS_SECRET, rs256PublicKey: rs.publicPem, endpoints: [], audience: AUDIENCE },
        { clientId: 'c', hs256Secret: 'short', endpoints: [], audience: AUDIENCE },
        { clientId: 'd', rs256PublicKey: ec, endpoints: [], audience: AUDIENCE },
        { clientId: 'e', rs256PublicKey: small, endpoints: [], audience: AUDIENCE },
        { clientId: 'f', rs256PublicKey: rs.privatePem, endpoints: [], audience: AUDIENCE },
        { clientId: 'g', rs256PublicKey: rs.privateKey.export({ format: 'jwk' }), endpoints: [], audience: AUDIENCE },
        { clientId: 'c', hs256Secret: HS_SECRET, endpoints: [], audience: AUDIENCE },
      ]),
    )
    expect(got).toEqual([
      'callers[0]: app "a": exactly one of hs256Secret or rs256PublicKey is required',
      'callers[1]: app "b": exactly one of hs256Secret or rs256PublicKey is required',
      'callers[2].hs256Secret: hs256Secret must be at least 32 bytes',
      'callers[3].rs256PublicKey: rs256PublicKey must be an RSA key, not ec',
      'callers[4].rs256PublicKey: rs256PublicKey must be at least 2048 bits (is 1024)',
      'callers[5].rs256PublicKey: rs256PublicKey cannot be read: the PEM holds a private key; give only the public key',
      'callers[6].rs256PublicKey: rs256PublicKey cannot be read: the JWK holds a private key; give only the public part',
      'callers[7].clientId: duplicate client id "c"',
    ])
    expect(got.join('\n')).not.toContain(HS_SECRET)
  })
})

describe('gateway keys and JWKS', () => {
  it('publishes public parts only, with kid, use and alg', () => {
    const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gw.privatePem }])
    const jwks = publicJwks(keys)
    expect(jwks.keys).toHaveLength(1)
    expect(Object.keys(jwks.keys[0] ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use'])
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', kid: 'k1', use: 'enc', alg: 'RSA-OAEP', n: gw.publicKey.export({ format: 'jwk' }).n })
  })
  it('reads passphrase-protected keys and reports bad ones', () => {
    const enc = gw.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
    expect(compileGatewayKeys([{ kid: 'p', privateKey: enc, passphrase: 'pw' }]).get('p')?.publicKey.type).toBe('public')
    const got = problems(() => compileGatewayKeys([{ kid: 'x', privateKey: 'nope' }, { kid: 'x', privateKey: gw.privatePem }]))
    expect(got[0]).toMatch(/^gatewayKeys\[0\]\.privateKey: key "x" cannot be read/)
    expect(got[1]).toBe('gatewayKeys[1].kid: duplicate kid "x"')
  })
})

describe('authorizeEndpoint', () => {
  const caller = (appId: string): Caller => ({ appId, sub: 'u', isAnonymous: false, claims: {}, exp: 0, viaJwe: false })
  it('allows listed endpoints and "*", refuses others with 403', () => {
    authorizeEndpoint(caller('hs-app'), 'payments', apps)
    authorizeEndpoint(caller('rs-app'), 'anything', apps)
    let e: unknown
    try {
      authorizeEndpoint(caller('hs-app'), 'ledger', apps)
    } catch (err) {
      e = err
    }
    expect(e).toBeInstanceOf(GatewayError)
    expect([(e as GatewayError).reason, (e as GatewayError).message, authFailureLabel(e)]).toEqual([
      'caller_not_allowed', 'caller app "hs-app" may not use endpoint "ledger"', 'not_allowed',
    ])
    expect(() => authorizeEndpoint(caller('gone'), 'payments', apps)).toThrow(/no longer configured/)
  })
})

describe('verifyCallerAssertion / exchangeAssertion', () => {
  const opts = (): AssertionOptions => ({
    apps, keys: compileGatewayKeys([{ kid: 'k1', privateKey: gw.privatePem }]), clockSkewSec: 30, claimAliasPrefix: '', now: nowMs, replay: new CallersMemoryStore(nowMs),
  })
  it('dispatches JWT and JWE, refuses anything else', async () => {
    const jwt = await signHs(claims('hs-app'))
    expect((await verifyCallerAssertion(jwt, opts())).viaJwe).toBe(false)
    const jwe = pythonJwe({ key: gw.publicPem, alg: 'RSA-OAEP', enc: 'A128GCM', kid: 'k1', payload: jwt })
    expect((await verifyCallerAssertion(jwe, opts())).viaJwe).toBe(true)
    await expect(verifyCallerAssertion('a.b', opts())).rejects.toThrow('assertion must be a compact JWT or JWE')
    await expect(verifyCallerAssertion('', opts())).rejects.toMatchObject({ reason: 'caller_credentials_missing' })
  })
  it('exchanges an assertion for a bearer', async () => {
    const stores = { store: new CallersMemoryStore(nowMs), now: nowMs }
    const { caller, token } = await exchangeAssertion(await signHs(claims('hs-app', { identityToMerge: 'anon-1' })), opts(), stores, 900)
    expect(caller.identityToMerge).toBe('anon-1')
    expect(token).toMatchObject({ token_type: 'bearer', expires_in: 900 })
  })
  it('labels nothing that is not a caller-auth failure', () => {
    expect(authFailureLabel(new Error('x'))).toBeUndefined()
    expect(authFailureLabel(new GatewayError('upstream_timeout', 'x'))).toBeUndefined()
    expect(authFailureLabel(new GatewayError('caller_credentials_missing', 'x'))).toBe('missing')
  })
})
