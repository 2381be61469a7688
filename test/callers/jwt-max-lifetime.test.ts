/**
 * `callers.jwtMaxLifetime` and `callers.apps[].jwtMaxLifetime`: an optional ceiling on `exp − iat`
 * of a JWT without `jti` (one used directly as the bearer, or exchanged: neither is a replay, so
 * such a JWT is a credential for as long as its issuer wrote). The app's own value wins over the
 * global one; unset (the default), nothing changes. Seeded property against that rule.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { parseConfig } from '../../src/config/index.js'
import { authFailureLabel, compileCallerApps, resolveBearer } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { AUDIENCE, claims, HS_SECRET, NOW_SEC, nowMs, signHs } from '../support/callers-fixtures.js'

const appsWith = (max?: number) => compileCallerApps([{ clientId: 'hs-app', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, ...(max !== undefined ? { jwtMaxLifetimeSec: max } : {}) }])
const stores = { store: new CallersMemoryStore(nowMs), sealer: { seal: async (s: string) => s, open: async (s: string) => s } } as never

async function verdict(max: number | undefined, lifetime: number): Promise<string> {
  const apps = appsWith(max)
  const jwt = await signHs(claims('hs-app', { iat: NOW_SEC - 10, exp: NOW_SEC - 10 + lifetime }))
  return resolveBearer(jwt, stores, { apps, clockSkewSec: 30, claimAliasPrefix: '', now: nowMs }).then(
    () => 'accepted',
    (e: unknown) => (e instanceof GatewayError ? `${authFailureLabel(e)}: ${e.message}` : `unexpected ${String(e)}`),
  )
}

describe('a maximum lifetime for JWTs without jti', () => {
  it('refuses a JWT living longer than the app\'s maximum, accepts one at it; none set: a year is fine', async () => {
    expect(await verdict(600, 601)).toBe('jwt_lifetime_too_long: error verifying the jwt: without "jti" claim "exp" must be <= 600 second(s) after "iat" (jwtMaxLifetime)')
    expect(await verdict(600, 600)).toBe('accepted')
    expect(await verdict(undefined, 365 * 86400)).toBe('accepted')
  })
  it('property: refused exactly when a maximum is set and exp − iat passes it (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(fc.integer({ min: 60, max: 7200 }), { nil: undefined }), fc.integer({ min: 40, max: 8000 }), async (max, lifetime) => {
        const got = await verdict(max, lifetime)
        expect(got === 'accepted').toBe(max === undefined || lifetime <= max)
      }),
      { seed: 0x11fe, numRuns: 80 },
    )
  })
  it('config: callers.jwtMaxLifetime, an app\'s own wins; unset by default', () => {
    const app = (extra: string) => `  - { clientId: a${extra.length}, hs256Secret: "${'s'.repeat(32)}", audience: x, endpoints: ["*"]${extra} }\n`
    const c = parseConfig('/etc/gw/gateway.yaml', `endpoints: []\ncallers:\n  jwtMaxLifetime: 10m\n  apps:\n${app('')}${app(', jwtMaxLifetime: 1h')}`, { env: {} }).callers
    expect([c.jwtMaxLifetimeSec, c.apps[0]?.jwtMaxLifetimeSec, c.apps[1]?.jwtMaxLifetimeSec]).toEqual([600, undefined, 3600])
    expect(parseConfig('/etc/gw/gateway.yaml', `endpoints: []\ncallers:\n  apps:\n${app('')}`, { env: {} }).callers.jwtMaxLifetimeSec).toBeUndefined()
  })
})
