/**
 * The tenant rule of caller apps, alone: `tenants` (a fixed list) and `tenantClaim` (the
 * caller's claim names the tenant), each and together, for bearer apps (authorizeCall, the
 * function the OAuth dance calls too) and certificate apps (the proxy's authorizeCaller).
 * A seeded property compares authorizeCall with a model over generated apps, claims and tenants.
 */
import fc from 'fast-check'
import { configProblems } from '../support/config-problems.js'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, authorizeCall, compileCallerApps, type Caller } from '../../src/callers/index.js'
import { compileCallers } from '../../src/gateway/index.js'
import { authorizeCaller } from '../../src/proxy/steps/authenticate-caller.js'
import { parseConfig } from '../../src/config/index.js'
import { AUDIENCE, HS_SECRET } from '../support/callers-fixtures.js'

const apps = compileCallerApps([
  { clientId: 'open', hs256Secret: `${HS_SECRET}-open`, endpoints: ['partner'], audience: AUDIENCE },
  { clientId: 'listed', hs256Secret: `${HS_SECRET}-listed`, endpoints: ['partner', 'plain'], audience: AUDIENCE, tenants: ['acme', 'globex'] },
  { clientId: 'claimed', hs256Secret: `${HS_SECRET}-claimed`, endpoints: ['*'], audience: AUDIENCE, tenantClaim: 'org' },
  { clientId: 'both', hs256Secret: `${HS_SECRET}-both`, endpoints: ['partner'], audience: AUDIENCE, tenants: ['acme', 'initech'], tenantClaim: 'org' },
])
const caller = (appId: string, claims: Record<string, unknown> = {}): Caller => ({ appId, claims, sub: 'u' })

/** The refusal's status, message and metric label, or 'ok'. */
function outcome(f: () => void): 'ok' | { msg: string; reason: string; label: string | undefined } {
  try {
    f()
    return 'ok'
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError)
    const err = e as GatewayError
    return { msg: err.message, reason: err.reason, label: authFailureLabel(err) }
  }
}

describe('authorizeCall: endpoint, then tenant', () => {
  it('without tenants or tenantClaim, any tenant (unchanged behaviour)', () => {
    for (const t of ['acme', 'globex', 'zz-top', undefined]) expect(outcome(() => authorizeCall(caller('open'), 'partner', t, apps))).toBe('ok')
  })

  it('tenants: only the listed ones, refused as a 403 counted like a disallowed endpoint', () => {
    expect(outcome(() => authorizeCall(caller('listed'), 'partner', 'acme', apps))).toBe('ok')
    expect(outcome(() => authorizeCall(caller('listed'), 'partner', 'GLOBEX', apps))).toBe('ok')
    expect(outcome(() => authorizeCall(caller('listed'), 'partner', 'initech', apps))).toEqual({
      msg: 'caller app "listed" may not use tenant "initech" on endpoint "partner"', reason: 'caller_not_allowed', label: 'not_allowed',
    })
    // A call without a tenant (an endpoint without tenancy) is judged by `endpoints` alone.
    expect(outcome(() => authorizeCall(caller('listed'), 'plain', undefined, apps))).toBe('ok')
    // The endpoint rule still comes first.
    expect(outcome(() => authorizeCall(caller('listed'), 'other', 'acme', apps))).toMatchObject({ msg: 'caller app "listed" may not use endpoint "other"' })
  })

  it('tenantClaim: a string or an array of strings names the tenant, case-insensitively; missing or other types refuse', () => {
    const ok = (claims: Record<string, unknown>, t: string): unknown => outcome(() => authorizeCall(caller('claimed', claims), 'partner', t, apps))
    expect(ok({ org: 'acme' }, 'acme')).toBe('ok')
    expect(ok({ org: 'ACME' }, 'acme')).toBe('ok')
    expect(ok({ org: ['globex', 'acme'] }, 'acme')).toBe('ok')
    expect(ok({ org: 'globex' }, 'acme')).toEqual({ msg: 'caller app "claimed" may not use tenant "acme" on endpoint "partner": the caller\'s "org" claim does not name it', reason: 'caller_not_allowed', label: 'not_allowed' })
    expect(ok({}, 'acme')).toMatchObject({ msg: 'caller app "claimed" may not use tenant "acme" on endpoint "partner": the caller\'s credentials carry no "org" claim' })
    for (const bad of [42, null, true, { acme: true }, [1, 2], 'acme,globex', ' acme']) expect(ok({ org: bad }, 'acme')).toMatchObject({ reason: 'caller_not_allowed' })
    // A claim named like an Object.prototype member is read from the claims only.
    const proto = compileCallerApps([{ clientId: 'p', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, tenantClaim: 'constructor' }])
    expect(outcome(() => authorizeCall(caller('p'), 'partner', 'acme', proto))).toMatchObject({ reason: 'caller_not_allowed' })
  })

  it('tenants and tenantClaim together: both must allow the tenant', () => {
    const run = (org: unknown, t: string): unknown => outcome(() => authorizeCall(caller('both', { org }), 'partner', t, apps))
    expect(run('acme', 'acme')).toBe('ok')
    expect(run('globex', 'globex')).toMatchObject({ msg: 'caller app "both" may not use tenant "globex" on endpoint "partner"' })
    expect(run('acme', 'initech')).toMatchObject({ reason: 'caller_not_allowed' })
  })

  it('compileCallerApps refuses an empty list, a tenant that is not a DNS label, and an empty claim name', () => {
    const problems = configProblems
    expect(problems(() => compileCallerApps([
      { clientId: 'a', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, tenants: [] },
      { clientId: 'b', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, tenants: ['acme', 'Globex'] },
      { clientId: 'c', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, tenantClaim: '' },
    ]))).toEqual([
      'callers[0].tenants: tenants must name at least one tenant (leave it out to allow any)',
      'callers[1].tenants: tenant "Globex" is not a lower-case DNS label',
      'callers[2].tenantClaim: tenantClaim must not be empty',
    ])
  })
})

describe('certificate apps (authorizeCaller on the proxy path)', () => {
  const config = parseConfig('/tmp/tenants-cert.yaml', `callers:
  apps:
    - { clientId: cert-app, audience: aud, endpoints: [partner], tenants: [acme], clientCertificate: { subject: cn } }
profiles:
  - { name: tp, consumerKey: ck, consumerSecret: cs, tenancy: true }
endpoints:
  - { name: partner, url: "https://api.partner.test", profile: tp, tls: { cert: c.crt, key: c.key, roots: r.crt } }
`, { env: {} })
  const callers = compileCallers(config)
  const certCaller: Caller = { appId: 'cert-app', claims: {} }

  it('apply tenants the same way', () => {
    expect(outcome(() => authorizeCaller(certCaller, 'partner', 'acme', callers))).toBe('ok')
    expect(outcome(() => authorizeCaller(certCaller, 'partner', 'globex', callers))).toEqual({
      msg: 'caller app "cert-app" may not use tenant "globex" on endpoint "partner"', reason: 'caller_not_allowed', label: 'not_allowed',
    })
  })

  it('refuse a caller whose app the snapshot does not have (fails closed)', () => {
    expect(outcome(() => authorizeCaller({ appId: 'removed-app', claims: {} }, 'partner', 'acme', callers))).toEqual({
      msg: 'caller app "removed-app" is not configured', reason: 'caller_not_allowed', label: 'not_allowed',
    })
  })
})

describe('property: authorizeCall allows exactly what the rule says', () => {
  const POOL = ['acme', 'globex', 'initech', 'umbrella', 'hooli']
  const caseOf = (s: string, mask: number): string => [...s].map((c, i) => ((mask >> i) & 1 ? c.toUpperCase() : c)).join('')

  it('over generated apps, claims and tenants (seeded, 5,000 runs)', () => {
    const tenantList = fc.option(fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1 }), { nil: undefined })
    const claimValue = fc.option(fc.oneof(
      fc.tuple(fc.constantFrom(...POOL), fc.nat(255)).map(([t, m]) => caseOf(t, m)),
      fc.array(fc.oneof(fc.constantFrom(...POOL), fc.integer()), { maxLength: 3 }),
      fc.integer(), fc.constant(null), fc.string(),
    ), { nil: undefined })
    fc.assert(
      fc.property(tenantList, fc.boolean(), claimValue, fc.constantFrom(...POOL), fc.nat(255), (tenants, useClaim, org, tenant, mask) => {
        const compiled = compileCallerApps([{ clientId: 'app', hs256Secret: HS_SECRET, endpoints: ['*'], audience: AUDIENCE, ...(tenants ? { tenants } : {}), ...(useClaim ? { tenantClaim: 'org' } : {}) }])
        const named = typeof org === 'string' ? [org.toLowerCase()] : Array.isArray(org) ? org.filter((v): v is string => typeof v === 'string') : []
        const expected = (tenants === undefined || tenants.includes(tenant)) && (!useClaim || named.includes(tenant))
        const got = outcome(() => authorizeCall(caller('app', org === undefined ? {} : { org }), 'ep', caseOf(tenant, mask), compiled))
        expect(got === 'ok').toBe(expected)
        if (got !== 'ok') expect([got.reason, got.label]).toEqual(['caller_not_allowed', 'not_allowed'])
      }),
      { seed: 0x7e4a47, numRuns: 5000 },
    )
  })
})
