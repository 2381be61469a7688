import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { parseDuration } from '../../src/config/units.js'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, JTI_EXP_TOO_LONG, JTI_RETENTION_FLOOR_SEC, JWT_REPLAY, verifyAssertion, type VerifyOptions } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, handJwt, HS_SECRET, NOW_SEC, nowMs, rsaPair, signHs, signRs, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const other = rsaPair()
const apps = testApps(rs)
const opts = (): VerifyOptions => ({ clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })

async function refusal(jwt: string, o: VerifyOptions = opts()): Promise<GatewayError> {
  const e: unknown = await verifyAssertion(jwt, apps, o).then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(GatewayError)
  const g = e as GatewayError
  // No refusal ever echoes the token or the secret.
  expect(g.message).not.toContain(jwt)
  expect(g.message).not.toContain(HS_SECRET)
  return g
}

describe('verifyAssertion: acceptance', () => {
  it('accepts an HS256 assertion from the HS256 app', async () => {
    const c = await verifyAssertion(await signHs(claims('hs-app', { pin: '1234' })), apps, opts())
    expect(c).toMatchObject({ appId: 'hs-app', sub: 'user-1', isAnonymous: false, exp: NOW_SEC + 600, viaJwe: false })
    expect(c.claims['pin']).toBe('1234')
    expect(c.jti).toBeUndefined()
  })
  it('accepts an RS256 assertion from the RS256 app (PEM and JWK keys)', async () => {
    const c = await verifyAssertion(await signRs(claims('rs-app'), rs.privateKey), apps, opts())
    expect(c.appId).toBe('rs-app')
    const { compileCallerApps } = await import('../../src/callers/index.js')
    const jwkApps = compileCallerApps([
      { clientId: 'rs-app', rs256PublicKey: rs.publicKey.export({ format: 'jwk' }), endpoints: [], audience: 'https://gateway.test' },
    ])
    expect((await verifyAssertion(await signRs(claims('rs-app'), rs.privateKey), jwkApps, opts())).appId).toBe('rs-app')
  })
  it('reads isAnonymous and identityToMerge', async () => {
    const anon = await verifyAssertion(await signHs(claims('hs-app', { isAnonymous: true })), apps, opts())
    expect(anon.isAnonymous).toBe(true)
    const known = await verifyAssertion(await signHs(claims('hs-app', { identityToMerge: 'anon-7' })), apps, opts())
    expect(known.identityToMerge).toBe('anon-7')
  })
  it('tolerates exp and iat within the clock skew', async () => {
    const jwt = await signHs(claims('hs-app', { exp: NOW_SEC - 20, iat: NOW_SEC - 100 }))
    expect((await verifyAssertion(jwt, apps, opts())).sub).toBe('user-1')
    const early = await signHs(claims('hs-app', { iat: NOW_SEC + 20 }))
    expect((await verifyAssertion(early, apps, opts())).sub).toBe('user-1')
  })
})

describe('verifyAssertion: refusals', () => {
  it('refuses alg confusion: HS256 keyed with the RS256 app public key PEM', async () => {
    const forged = handJwt({ alg: 'HS256', typ: 'JWT' }, claims('rs-app'), rs.publicPem)
    const e = await refusal(forged)
    expect(e.reason).toBe('caller_credentials_invalid')
    expect(authFailureLabel(e)).toBe('alg_not_allowed')
    expect(e.message).toContain('"HS256" is not allowed for app "rs-app" (expects RS256)')
  })
  it('refuses alg none (with and without a signature part)', async () => {
    // 'eA' is base64url for one byte; 'x' alone encodes no byte, so it is not base64url at all (canonical-parts.test.ts).
    for (const sig of ['', 'eA']) {
      const none = handJwt({ alg: 'none', typ: 'JWT' }, claims('hs-app')) + sig
      expect(authFailureLabel(await refusal(none))).toBe('alg_not_allowed')
    }
    expect(authFailureLabel(await refusal(handJwt({ alg: 'none', typ: 'JWT' }, claims('hs-app')) + 'x'))).toBe('malformed')
  })
  it('refuses RS256 for the HS256 app and a wrong signer', async () => {
    expect(authFailureLabel(await refusal(await signRs(claims('hs-app'), rs.privateKey)))).toBe('alg_not_allowed')
    expect(authFailureLabel(await refusal(await signRs(claims('rs-app'), other.privateKey)))).toBe('bad_signature')
    const wrongSecret = await signHs(claims('hs-app'), 'another-secret-of-at-least-32-bytes!')
    expect(authFailureLabel(await refusal(wrongSecret))).toBe('bad_signature')
  })
  it('refuses an expired token', async () => {
    const e = await refusal(await signHs(claims('hs-app', { exp: NOW_SEC - 31 })))
    expect([e.reason, authFailureLabel(e), e.message]).toEqual([
      'caller_credentials_invalid', 'expired', 'error verifying the jwt: token expired ("exp" is in the past)',
    ])
  })
  it('refuses an iat in the future beyond the skew, and a future nbf', async () => {
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { iat: NOW_SEC + 31 }))))).toBe('not_yet_valid')
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { nbf: NOW_SEC + 60 }))))).toBe('not_yet_valid')
  })
  it('refuses a wrong aud', async () => {
    const e = await refusal(await signHs(claims('hs-app', { aud: 'https://elsewhere' })))
    expect(authFailureLabel(e)).toBe('bad_audience')
    expect(e.message).toBe('error verifying the jwt: "aud" claim must name "https://gateway.test"')
  })
  it('refuses an unknown or missing iss, and an iss of another app', async () => {
    expect(authFailureLabel(await refusal(await signHs(claims('nobody'))))).toBe('bad_issuer')
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { iss: undefined }))))).toBe('bad_issuer')
    // Signed with hs-app's secret but claiming to be rs-app: rs-app's rules apply.
    expect(authFailureLabel(await refusal(await signHs(claims('rs-app'))))).toBe('alg_not_allowed')
  })
  it('refuses a missing or empty sub', async () => {
    const e = await refusal(await signHs(claims('hs-app', { sub: undefined })))
    expect([authFailureLabel(e), e.message]).toEqual(['missing_sub', 'error verifying the jwt: "sub" claim is missing'])
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { sub: '' }))))).toBe('missing_sub')
  })
  it('refuses missing exp/iat, garbage and wrongly typed identity claims', async () => {
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { exp: undefined }))))).toBe('malformed')
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { iat: undefined }))))).toBe('malformed')
    expect(authFailureLabel(await refusal('not.a.jwt'))).toBe('malformed')
    expect(authFailureLabel(await refusal(await signHs(claims('hs-app', { isAnonymous: 'yes' }))))).toBe('malformed')
    const both = claims('hs-app', { isAnonymous: true, identityToMerge: 'x' })
    expect(authFailureLabel(await refusal(await signHs(both)))).toBe('malformed')
  })
})

describe('verifyAssertion: jti', () => {
  it('refuses exp more than one hour after iat with the exact text', async () => {
    const e = await refusal(await signHs(claims('hs-app', { jti: 'j1', iat: NOW_SEC - 10, exp: NOW_SEC + 3591 })))
    expect([e.reason, e.message, authFailureLabel(e)]).toEqual(['caller_credentials_invalid', JTI_EXP_TOO_LONG, 'jti_exp_too_long'])
    expect(JTI_EXP_TOO_LONG).toBe('error verifying the jwt: if "jti" claim "exp" must be <= 1 hour(s)')
    // Exactly one hour is fine; without a jti any lifetime is.
    await verifyAssertion(await signHs(claims('hs-app', { jti: 'j2', iat: NOW_SEC - 10, exp: NOW_SEC + 3590 })), apps, opts())
    await verifyAssertion(await signHs(claims('hs-app', { exp: NOW_SEC + 86_400 })), apps, opts())
  })
  it('refuses a second use with the exact text; a different jti is fine', async () => {
    const o = opts()
    const jwt = await signHs(claims('hs-app', { jti: 'once' }))
    expect((await verifyAssertion(jwt, apps, o)).jti).toBe('once')
    const e = await refusal(jwt, o)
    expect([e.reason, e.message, authFailureLabel(e)]).toEqual(['jwt_replay', JWT_REPLAY, 'replay'])
    expect(JWT_REPLAY).toBe('error verifying the jwt: possibly a replay')
    await verifyAssertion(await signHs(claims('hs-app', { jti: 'twice' })), apps, o)
    // The same jti from another app is another token.
    await verifyAssertion(await signRs(claims('rs-app', { jti: 'once' }), rs.privateKey), apps, o)
  })
  it('keeps the jti, and the assertion itself, until exp plus the larger of skew and an hour, under the documented keys', async () => {
    const replay = new CallersMemoryStore(nowMs)
    const puts: [string, number][] = []
    const put = replay.putIfAbsent.bind(replay)
    replay.putIfAbsent = async (k, v, t) => {
      puts.push([k, t ?? 0])
      return put(k, v, t)
    }
    const jwt = await signHs(claims('hs-app', { jti: 'k', exp: NOW_SEC + 600 }))
    await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', replay, now: nowMs })
    const digest = createHash('sha256').update(jwt).digest('base64url')
    expect(puts).toEqual([['jti:hs-app:k', 4_200_000], [`jti-assertion:hs-app:${digest}`, 4_200_000]])
  })
  it('keeps it for the largest clockSkew the schema allows: a reload (or replica) to that skew still refuses a spent jti', async () => {
    const max = (configSchema.properties.callers.properties.clockSkew as { maxDuration: { max: string } }).maxDuration.max
    expect(parseDuration(max)).toBe(JTI_RETENTION_FLOOR_SEC * 1000)
    let at = nowMs()
    const replay = new CallersMemoryStore(() => at)
    const jwt = await signHs(claims('hs-app', { jti: 'long-skew', exp: NOW_SEC + 2 }))
    await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', replay, now: () => at })
    // 50 minutes past exp: a gateway allowing an hour of skew accepts the JWT itself, and must still find its jti.
    at += 3_000_000
    const e = await refusal(jwt, { clockSkewSec: JTI_RETENTION_FLOOR_SEC, claimAliasPrefix: '', replay, now: () => at })
    expect(e.reason).toBe('jwt_replay')
  })
  it('an assertion spent under one claimAliasPrefix is a replay under another (a reload changing it), either way round', async () => {
    for (const [first, then] of [['kore_', ''], ['', 'kore_']] as const) {
      const replay = new CallersMemoryStore(nowMs)
      // An SDK fills in `jti`; the app overrides it with `kore_jti`: each prefix reads another.
      const jwt = await signHs(claims('hs-app', { jti: `sdk-${first}`, kore_jti: `app-${first}` }))
      await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: first, replay, now: nowMs })
      const e = await refusal(jwt, { clockSkewSec: 30, claimAliasPrefix: then, replay, now: nowMs })
      expect(e.reason, `${first} then ${then}`).toBe('jwt_replay')
      expect(e.message).toBe(JWT_REPLAY)
    }
  })
  it('a jti spent under a small clockSkew is still a replay where more skew is allowed (another replica, or after a reload)', async () => {
    let at = nowMs()
    const replay = new CallersMemoryStore(() => at)
    const jwt = await signHs(claims('hs-app', { jti: 'skew', exp: NOW_SEC + 2 }))
    await verifyAssertion(jwt, apps, { clockSkewSec: 1, claimAliasPrefix: '', replay, now: () => at })
    // Past exp + 1 s (this replica's skew), within exp + 60 s (the other's): the other still accepts the JWT itself.
    at += 5_000
    const e = await refusal(jwt, { clockSkewSec: 60, claimAliasPrefix: '', replay, now: () => at })
    expect(e.reason).toBe('jwt_replay')
  })
  it('does not spend a jti on a refused token, and never skips the cache silently', async () => {
    const o = opts()
    await refusal(await signHs(claims('hs-app', { jti: 'spent?', aud: 'wrong' })), o)
    await verifyAssertion(await signHs(claims('hs-app', { jti: 'spent?' })), apps, o)
    const e = await refusal(await signHs(claims('hs-app', { jti: 'x' })), { clockSkewSec: 30, claimAliasPrefix: '', now: nowMs })
    expect(e.reason).toBe('internal')
  })
})
