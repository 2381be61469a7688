/**
 * One app's `jti` is its own: the replay cache must never let an assertion of one registered app
 * spend (and so refuse) another app's `jti`, whatever characters the client ids hold. Client ids
 * are free text (URL-shaped ones hold ":"), and with the raw id in the key app "a:x" with jti "y"
 * and app "a" with jti "x:y" were the same entry: a hostile app could refuse another's assertions.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileCallerApps, verifyAssertion, type VerifyOptions } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { AUDIENCE, claims, HS_SECRET, nowMs, signHs } from '../support/callers-fixtures.js'

const OTHER_SECRET = 'another-test-secret-of-32-bytes-or-more'

function appsOf(first: string, second: string) {
  return compileCallerApps([
    { clientId: first, hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE },
    { clientId: second, hs256Secret: OTHER_SECRET, endpoints: ['*'], audience: AUDIENCE },
  ])
}

describe('jti replay cache: scoped to the app', () => {
  it('app "a:x" with jti "y" does not spend app "a"\'s jti "x:y"', async () => {
    const apps = appsOf('a', 'a:x')
    const o: VerifyOptions = { clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs }
    await verifyAssertion(await signHs(claims('a:x', { jti: 'y' }), OTHER_SECRET), apps, o)
    expect((await verifyAssertion(await signHs(claims('a', { jti: 'x:y' })), apps, o)).jti).toBe('x:y')
  })

  it('property: distinct (app, jti) pairs never collide; the same pair is always a replay', async () => {
    const part = fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', 'b', ':', '%', '3', 'A', '/', '{', '}') })
    // Either two unrelated pairs, or the pairs whose raw `app:jti` joins are the same text.
    const pairs = fc.oneof(
      fc.tuple(part, part, part, part),
      fc.tuple(part, part, part).map(([a, x, y]) => [a, `${a}:${x}`, `${x}:${y}`, y] as const),
    )
    await fc.assert(
      fc.asyncProperty(pairs, async ([app1, app2, jti1, jti2]) => {
        fc.pre(app1 !== app2)
        const apps = appsOf(app1, app2)
        const o: VerifyOptions = { clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs }
        await verifyAssertion(await signHs(claims(app2, { jti: jti2 }), OTHER_SECRET), apps, o)
        const mine = await signHs(claims(app1, { jti: jti1 }))
        expect((await verifyAssertion(mine, apps, o)).jti).toBe(jti1)
        await expect(verifyAssertion(mine, apps, o)).rejects.toThrow('possibly a replay')
      }),
      { seed: 2323, numRuns: 300 },
    )
  })
})
