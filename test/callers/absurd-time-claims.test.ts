/**
 * A time claim no date can hold: `exp` of 1e308 (or 8.64e12 + 1, a second past the year 275760,
 * JavaScript's last date) made a jti-less JWT used directly as the bearer a credential that never
 * expires; `nbf`/`iat` of -1e308 a token "valid since before time". Such a claim is malformed, on
 * the exchange and on the direct bearer alike, and the message names the claim and the range.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, resolveBearer, verifyCallerAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, nowMs, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'

/** Seconds since the epoch of JavaScript's last date (8.64e15 ms: 13 September 275760). */
const LAST_SEC = 8.64e12
const apps = testApps(rsaPair())
const opts = () => ({ apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })
const stores = { store: new CallersMemoryStore(nowMs), sealer: { seal: async (s: string) => s, open: async (s: string) => s } } as never

async function refusal(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'accepted',
    (e: unknown) => (e instanceof GatewayError ? `${authFailureLabel(e) ?? e.reason}: ${e.message}` : `unexpected ${String(e)}`),
  )
}

describe('time claims beyond any date', () => {
  it('exp 1e308 or one second past the last date: malformed, exchanged or used directly as the bearer', async () => {
    for (const exp of [1e308, LAST_SEC + 1]) {
      const jwt = await signHs(claims('hs-app', { exp }))
      const want = 'malformed: error verifying the jwt: "exp" claim must be a number of seconds within ±8640000000000 (the dates JavaScript holds, up to the year 275760)'
      expect(await refusal(verifyCallerAssertion(jwt, opts()))).toBe(want)
      expect(await refusal(resolveBearer(jwt, stores, opts()))).toBe(want)
    }
  })
  it('the last date itself is still a date (accepted, as before)', async () => {
    expect(await refusal(resolveBearer(await signHs(claims('hs-app', { exp: LAST_SEC })), stores, opts()))).toBe('accepted')
  })
  it('property: an iat, nbf or exp past ±8.64e12 (finite, up to 1e308) is malformed, naming that claim (seeded)', async () => {
    const beyond = fc.oneof(fc.double({ min: LAST_SEC + 1, max: 1e308, noNaN: true }), fc.double({ min: -1e308, max: -LAST_SEC - 1, noNaN: true }))
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('iat', 'nbf', 'exp'), beyond, async (claim, v) => {
        const got = await refusal(resolveBearer(await signHs(claims('hs-app', { [claim]: v })), stores, opts()))
        expect(got).toBe(`malformed: error verifying the jwt: "${claim}" claim must be a number of seconds within ±8640000000000 (the dates JavaScript holds, up to the year 275760)`)
      }),
      { seed: 0x275760, numRuns: 60 },
    )
  })
})
