/**
 * `kore_jti`, `kore_iss`, `kore_sub`: when an alias is present it is the value used, for the
 * replay cache and the one-hour rule, the app, and the user; in JWTs, inside JWEs (made by
 * python3-jwcrypto) and for a JWT used directly as the bearer. The refusal texts are the
 * ones without aliases.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import {
  authFailureLabel, compileGatewayKeys, JTI_EXP_TOO_LONG, JWT_REPLAY, resolveBearer, verifyAssertion, verifyCallerAssertion, type VerifyOptions,
} from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, nowMs, pythonJwe, rsaPair, signHs, signRs, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const gwKey = rsaPair()
const apps = testApps(rs)
const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gwKey.privatePem }])
const opts = (prefix = 'kore_'): VerifyOptions => ({ clockSkewSec: 30, replay: new CallersMemoryStore(nowMs), now: nowMs, claimAliasPrefix: prefix })
const jwe = (payload: string, alg = 'RSA-OAEP', enc = 'A256GCM'): string => pythonJwe({ key: gwKey.publicPem, alg, enc, kid: 'k1', payload })
const verify = (assertion: string, o: VerifyOptions): ReturnType<typeof verifyCallerAssertion> => verifyCallerAssertion(assertion, { ...o, apps, keys })

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const e: unknown = await p.then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(GatewayError)
  return e as GatewayError
}

describe('claim aliases in a JWT', () => {
  it('kore_jti is the replay key: a second use is refused with the exact text, whatever jti says', async () => {
    const o = opts()
    const first = await signHs(claims('hs-app', { jti: 'sdk-filled', kore_jti: 'app-chosen-1' }))
    expect((await verifyAssertion(first, apps, o)).jti).toBe('app-chosen-1')
    const again = await signHs(claims('hs-app', { jti: 'sdk-filled-other', kore_jti: 'app-chosen-1' }))
    const e = await refusal(verifyAssertion(again, apps, o))
    expect([e.reason, e.message, authFailureLabel(e)]).toEqual(['jwt_replay', JWT_REPLAY, 'replay'])
    // The SDK's jti is not the key: the same one with another alias is a new token.
    await verifyAssertion(await signHs(claims('hs-app', { jti: 'sdk-filled', kore_jti: 'app-chosen-2' })), apps, o)
  })

  it('kore_jti alone makes the one-hour rule apply, with the exact text', async () => {
    const e = await refusal(verifyAssertion(await signHs(claims('hs-app', { kore_jti: 'j', iat: NOW_SEC - 10, exp: NOW_SEC + 3591 })), apps, opts()))
    expect([e.message, authFailureLabel(e)]).toEqual([JTI_EXP_TOO_LONG, 'jti_exp_too_long'])
  })

  it('kore_iss selects the app (its key, its rules) over iss', async () => {
    const c = await verifyAssertion(await signHs(claims('sdk-default-issuer', { kore_iss: 'hs-app' })), apps, opts())
    expect(c.appId).toBe('hs-app')
    // iss names rs-app, the alias hs-app: hs-app's HS256 secret verifies it.
    expect((await verifyAssertion(await signHs(claims('rs-app', { kore_iss: 'hs-app' })), apps, opts())).appId).toBe('hs-app')
    // And the other way: the alias names rs-app, so an HS256 signature is refused.
    const e = await refusal(verifyAssertion(await signHs(claims('hs-app', { kore_iss: 'rs-app' })), apps, opts()))
    expect(e.message).toBe('error verifying the jwt: algorithm "HS256" is not allowed for app "rs-app" (expects RS256)')
    const unknown = await refusal(verifyAssertion(await signHs(claims('hs-app', { kore_iss: 'nobody' })), apps, opts()))
    expect(unknown.message).toBe('error verifying the jwt: "iss" names no registered caller app')
  })

  it('kore_sub is the user; with both sub and kore_sub the alias wins', async () => {
    const both = await verifyAssertion(await signHs(claims('hs-app', { sub: 'sdk-user', kore_sub: 'alice' })), apps, opts())
    expect(both.sub).toBe('alice')
    expect(both.claims['sub']).toBe('alice')
    const only = await verifyAssertion(await signRs(claims('rs-app', { sub: undefined, kore_sub: 'bob' }), rs.privateKey), apps, opts())
    expect(only.sub).toBe('bob')
  })

  it('keeps the exact texts for missing or bad identity claims', async () => {
    const missing = await refusal(verifyAssertion(await signHs(claims('hs-app', { sub: undefined })), apps, opts()))
    expect([authFailureLabel(missing), missing.message]).toEqual(['missing_sub', 'error verifying the jwt: "sub" claim is missing'])
    const empty = await refusal(verifyAssertion(await signHs(claims('hs-app', { sub: 'x', kore_sub: '' })), apps, opts()))
    expect(empty.message).toBe('error verifying the jwt: "sub" claim must be a non-empty string')
    const noIss = await refusal(verifyAssertion(await signHs(claims('hs-app', { iss: undefined })), apps, opts()))
    expect(noIss.message).toBe('error verifying the jwt: "iss" claim is missing')
  })

  it('an empty prefix turns aliases off; another prefix is honoured instead of kore_', async () => {
    const c = await verifyAssertion(await signHs(claims('hs-app', { sub: 'sdk-user', kore_sub: 'alice', kore_jti: 'k' })), apps, opts(''))
    expect([c.sub, c.jti]).toEqual(['sdk-user', undefined])
    expect((await refusal(verifyAssertion(await signHs(claims('nobody', { kore_iss: 'hs-app' })), apps, opts('')))).message).toBe(
      'error verifying the jwt: "iss" names no registered caller app',
    )
    const custom = await verifyAssertion(await signHs(claims('hs-app', { kore_sub: 'alice', app_sub: 'carol' })), apps, opts('app_'))
    expect(custom.sub).toBe('carol')
  })

  it('property: any token carrying an alias jti is spent under the alias, whatever else it carries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.option(fc.string({ minLength: 1, maxLength: 40 })), fc.option(fc.string({ minLength: 1, maxLength: 40 })), async (alias, jti1, jti2) => {
        const o = opts()
        const first = await signHs(claims('hs-app', { kore_jti: alias, jti: jti1 ?? undefined }))
        expect((await verifyAssertion(first, apps, o)).jti).toBe(alias)
        const second = await signHs(claims('hs-app', { kore_jti: alias, jti: jti2 ?? undefined, sub: 'another-user' }))
        expect((await refusal(verifyAssertion(second, apps, o))).message).toBe(JWT_REPLAY)
      }),
      { seed: 1616, numRuns: 300 },
    )
  })
})

describe('claim aliases inside a JWE (python3-jwcrypto)', () => {
  it('kore_jti replay, kore_iss app and kore_sub user apply to the decrypted JWT', async () => {
    const o = opts()
    const inner = await signHs(claims('sdk-issuer', { sub: 'sdk-user', jti: 'sdk-jti', kore_iss: 'hs-app', kore_sub: 'dana', kore_jti: 'jwe-1', pin: '4711' }))
    const c = await verify(jwe(inner), o)
    expect([c.appId, c.sub, c.jti, c.viaJwe, c.claims['pin']]).toEqual(['hs-app', 'dana', 'jwe-1', true, '4711'])
    // The same alias jti in a fresh encryption (and a new SDK jti) is still a replay.
    const again = await signHs(claims('sdk-issuer', { jti: 'sdk-jti-2', kore_iss: 'hs-app', kore_sub: 'dana', kore_jti: 'jwe-1' }))
    const e = await refusal(verify(jwe(again, 'RSA-OAEP', 'A128CBC-HS256'), o))
    expect([e.reason, e.message]).toEqual(['jwt_replay', JWT_REPLAY])
  })

  it('kore_jti in a JWE obeys the one-hour rule with the exact text', async () => {
    const inner = await signRs(claims('rs-app', { kore_jti: 'long', iat: NOW_SEC - 10, exp: NOW_SEC + 7200 }), rs.privateKey)
    expect((await refusal(verify(jwe(inner, 'RSA-OAEP', 'A128GCM'), opts()))).message).toBe(JTI_EXP_TOO_LONG)
  })
})

describe('claim aliases on a JWT used directly as the bearer', () => {
  const stores = { store: new CallersMemoryStore(nowMs), ephemeral: new CallersMemoryStore(nowMs), now: nowMs }
  it('kore_sub and kore_iss identify the caller; a kore_jti makes it one-time like jti', async () => {
    const direct = await resolveBearer(await signHs(claims('other-iss', { kore_iss: 'hs-app', sub: 'sdk-user', kore_sub: 'erin' })), stores, { ...opts(), apps })
    expect([direct.appId, direct.sub]).toEqual(['hs-app', 'erin'])
    const e = await refusal(resolveBearer(await signHs(claims('hs-app', { kore_jti: 'once' })), stores, { ...opts(), apps }))
    expect([authFailureLabel(e), e.message]).toEqual(['jwt_bearer_has_jti', 'error verifying the jwt: a JWT with "jti" must be exchanged at /gateway/token'])
  })
})
