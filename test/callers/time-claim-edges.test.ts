/**
 * `exp`, `iat` and `nbf` at and around their edges, as the README states them: `exp` at or before
 * now − clockSkew is expired, `iat` or `nbf` after now + clockSkew is not valid yet, a `jti`'s `exp`
 * at most one hour after `iat` (exactly an hour is fine); fractions count as written. Numbers only:
 * the same values as JSON strings are malformed. Seeded property against that rule.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, verifyCallerAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, nowMs, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'

const SKEW = 30
const apps = testApps(rsaPair())
const opts = () => ({ apps, keys: new Map(), clockSkewSec: SKEW, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })

async function verdict(over: Record<string, unknown>): Promise<string> {
  return verifyCallerAssertion(await signHs(claims('hs-app', over)), opts()).then(
    () => 'accepted',
    (e: unknown) => (e instanceof GatewayError ? (authFailureLabel(e) ?? e.reason) : `unexpected ${String(e)}`),
  )
}

/** An offset from now, seconds: near the skew's edges, near an hour, or a half second off either. */
const offset = fc.oneof(fc.integer({ min: -35, max: 35 }), fc.integer({ min: 3595, max: 3605 }), fc.integer({ min: -35, max: 35 }).map((n) => n + 0.5))

describe('time claims at their edges', () => {
  it('property: the verdict is the README\'s rule, in its order (expired, then not valid yet, then the jti hour) (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(offset, offset, fc.option(offset, { nil: undefined }), fc.boolean(), async (expOff, iatOff, nbfOff, withJti) => {
        const [exp, iat] = [NOW_SEC + expOff, NOW_SEC + iatOff]
        const nbf = nbfOff === undefined ? undefined : NOW_SEC + nbfOff
        const expected =
          nbf !== undefined && nbf > NOW_SEC + SKEW ? 'not_yet_valid'
          : exp <= NOW_SEC - SKEW ? 'expired'
          : iat > NOW_SEC + SKEW ? 'not_yet_valid'
          : withJti && exp - iat > 3600 ? 'jti_exp_too_long'
          : 'accepted'
        expect(await verdict({ exp, iat, nbf, jti: withJti ? `j-${expOff}-${iatOff}` : undefined })).toBe(expected)
      }),
      { seed: 0x71e, numRuns: 400 },
    )
  })
  it('exact edges: exp = now − skew is expired, one second later is not; iat = now + skew is fine; a jti lives exactly an hour', async () => {
    expect(await verdict({ exp: NOW_SEC - SKEW })).toBe('expired')
    expect(await verdict({ exp: NOW_SEC - SKEW + 1 })).toBe('accepted')
    expect(await verdict({ iat: NOW_SEC + SKEW })).toBe('accepted')
    expect(await verdict({ iat: NOW_SEC + SKEW + 1 })).toBe('not_yet_valid')
    expect(await verdict({ iat: NOW_SEC, exp: NOW_SEC + 3600, jti: 'hour' })).toBe('accepted')
    expect(await verdict({ iat: NOW_SEC, exp: NOW_SEC + 3600.5, jti: 'hour-and-a-half-second' })).toBe('jti_exp_too_long')
  })
  it('a time claim as a string, a boolean or an object is malformed, whatever it says', async () => {
    for (const claim of ['exp', 'iat', 'nbf']) {
      for (const v of [String(NOW_SEC), true, { n: NOW_SEC }, [NOW_SEC]]) expect(await verdict({ [claim]: v })).toBe('malformed')
    }
  })
})
