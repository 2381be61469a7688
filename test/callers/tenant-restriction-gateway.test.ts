/**
 * A caller app's tenant restriction through the real gateway, on every way in (forward proxy,
 * CONNECT-intercepted, route with the tenant header, route `@tenant`) and every topology
 * (in-process, --workers 2, two replicas on Redis): an app may send calls only under the
 * tenants its rule allows, so it never gets another tenant's client certificate; a refusal is
 * the 403 envelope and never reaches the upstream (its TCP connections and requests are
 * counted), also as a seeded property over generated apps, claims, tenants and ways in.
 * Without a rule, every tenant is served as before (the "open" app).
 */
import { Agent } from 'node:http'
import { CompactEncrypt } from 'jose'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOPOLOGIES } from '../support/topology.js'
import { useTopology } from '../support/topology.js'
import { send } from '../support/gateway.js'
import { allowed, APPS, assertionFor, bearerFor, callUnder, expectRefused, expectServed, startTenantFixture, Tunnels, WAYS, type AppId, type TenantFixture } from './tenant-support.js'

let f: TenantFixture
beforeAll(async () => {
  f = await startTenantFixture()
})
afterAll(async () => f?.close())

/** The example calls: app, its caller's org claim, the tenant. */
const EXAMPLES: readonly { app: AppId; org?: unknown; tenant: string; refusal?: string }[] = [
  { app: 'acme-app', tenant: 'acme' },
  { app: 'acme-app', tenant: 'globex', refusal: 'caller app "acme-app" may not use tenant "globex" on endpoint "partner"' },
  { app: 'acme-app', tenant: 'ACME' },
  { app: 'open', tenant: 'globex' },
  { app: 'claimed', org: 'globex', tenant: 'globex' },
  { app: 'claimed', org: ['initech', 'Globex'], tenant: 'globex' },
  { app: 'claimed', org: 'acme', tenant: 'globex', refusal: 'caller app "claimed" may not use tenant "globex" on endpoint "partner": the caller\'s "org" claim does not name it' },
  { app: 'claimed', tenant: 'acme', refusal: 'caller app "claimed" may not use tenant "acme" on endpoint "partner": the caller\'s credentials carry no "org" claim' },
  { app: 'both', org: 'globex', tenant: 'globex', refusal: 'caller app "both" may not use tenant "globex" on endpoint "partner"' },
  { app: 'both', org: 'initech', tenant: 'initech' },
]

describe.each(TOPOLOGIES)('tenant restriction per caller app (%s)', (kind) => {
  const { gw } = useTopology(kind, 'tenant-rule', (store) => f.yaml(store))
  const tunnels = (): Tunnels => new Tunnels(f)

  it.each(WAYS)('%s: each app only under its tenants; a refusal is a 403 that opens no upstream connection', async (way) => {
    const t = tunnels()
    try {
      for (const ex of EXAMPLES) {
        const bearer = await bearerFor(ex.app, ex.org)
        const before = f.counts()
        const r = await callUnder(f, t, gw.url, way, bearer, ex.tenant, way === 'route@' ? 'acme' : undefined)
        if (ex.refusal === undefined) {
          expectServed(r, ex.tenant)
          expect(f.counts().requests).toBe(before.requests + 1)
        } else {
          expectRefused(r, ex.app, ex.tenant)
          expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: ex.refusal, code: 403 }] })
          expect(f.counts()).toEqual(before)
        }
      }
    } finally {
      t.destroy()
    }
  })

  it('bearers from POST /gateway/token carry the claim: a JWT and a JWE (claims sealed apart) decide the tenant alike', async () => {
    const t = tunnels()
    try {
      const jwt = await assertionFor('claimed', { org: 'globex' })
      const jwe = await new CompactEncrypt(new TextEncoder().encode(await assertionFor('claimed', { org: 'globex' })))
        .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-1', cty: 'JWT' })
        .encrypt(f.jweKey.publicKey)
      for (const assertion of [jwt, jwe]) {
        // Exchanged on one replica (or worker), used on the next.
        const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
        expect(r.status, r.text).toBe(200)
        const bearer = r.json<{ access_token: string }>().access_token
        for (const way of WAYS) {
          expectServed(await callUnder(f, t, gw.url, way, bearer, 'globex'), 'globex')
          const before = f.counts()
          expectRefused(await callUnder(f, t, gw.url, way, bearer, 'acme'), 'claimed', 'acme')
          expect(f.counts()).toEqual(before)
        }
      }
    } finally {
      t.destroy()
    }
  })

  it(`property: a call under a tenant the app may not use never reaches the upstream (seeded, ${kind === 'in-process' ? '2,000' : '300'} runs)`, async () => {
    const POOL = ['acme', 'globex', 'initech', 'umbrella']
    const t = tunnels()
    // In process, the runs share one kept-alive connection (each request still judged alone: a
    // refusal on it must not leak into the next run's answer); across workers or replicas each
    // run is a new connection, so consecutive runs land on different processes.
    const agent = kind === 'in-process' ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined
    const caseOf = (s: string, upper: readonly boolean[]): string => [...s].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('')
    const org = fc.option(fc.oneof(fc.constantFrom(...POOL, 'ACME', 'Globex'), fc.constantFrom(['acme', 'globex'], ['initech'], [], [7, 'umbrella'], 42)), { nil: undefined })
    const tenant = fc.tuple(fc.constantFrom(...POOL), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })).map(([x, upper]) => caseOf(x, upper))
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...APPS), org, tenant, fc.constantFrom(...WAYS), fc.constantFrom(...POOL), async (app, claim, under, way, decoy) => {
          const before = f.counts()
          const r = await callUnder(f, t, gw.url, way, await bearerFor(app, claim), under, decoy, agent)
          if (allowed(app, under, claim)) {
            expectServed(r, under)
            expect(f.counts().requests).toBe(before.requests + 1)
          } else {
            expectRefused(r, app, under)
            // Not a request, and not even a connection: refused before the upstream was dialled.
            expect(f.counts()).toEqual(before)
          }
        }),
        { seed: 0x7e7a7, numRuns: kind === 'in-process' ? 2_000 : 300 },
      )
    } finally {
      t.destroy()
      agent?.destroy()
    }
  }, 600_000)
})
