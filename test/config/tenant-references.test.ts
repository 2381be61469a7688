/**
 * A profile URL with `{tenant}` whose profile never has a tenant would fail every dance
 * request with 400, and so would an authorization field with `{{tenant}}` on an endpoint
 * without tenancy: load (start, reload, `check`) reports each at its file:line:column.
 * An endpoint URL's `{tenant}` gives the endpoint tenancy, in either spelling.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-tenantrefs-'))
const file = join(dir, 'gateway.yaml')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function yaml(endpointUrl: string, profileLines: string, extraEndpoint = ''): string {
  return `endpoints:
  - name: partner
    url: ${endpointUrl}
    profile: partner
    tls: { cert: c.crt, key: c.key, roots: r.crt }
${extraEndpoint}profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs
    token: { mode: per_user }
${profileLines}`
}

const problemsOf = (text: string): string[] => configErrorLines(() => parseConfig(file, text, { env: {} })).filter((l) => l.startsWith(file))

const URLS = `    requestTokenUrl: https://{tenant}.partner.test/request_token
    accessTokenUrl: https://login.partner.test/{{tenant}}/access_token
    authorizeUrl: https://login.partner.test/authorize
    callbackUrl: https://gw.example/{tenant}/gateway/oauth1/callback
`
const NO_TENANCY = 'has no tenancy, so no request names a tenant (set tenancy: true, or put {tenant} in its endpoint\'s URL)'

describe('load: {tenant} needs tenancy', () => {
  it('reports each profile URL with {tenant} when neither the profile nor its endpoint has tenancy', () => {
    expect(problemsOf(yaml('https://api.partner.test', URLS))).toEqual([
      `${file}:11:22: profiles[0].requestTokenUrl: contains {tenant}, but profile "partner" ${NO_TENANCY}`,
      `${file}:12:21: profiles[0].accessTokenUrl: contains {tenant}, but profile "partner" ${NO_TENANCY}`,
      `${file}:14:18: profiles[0].callbackUrl: contains {tenant}, but profile "partner" ${NO_TENANCY}`,
    ])
  })

  it('accepts them when the profile has tenancy: true', () => {
    expect(problemsOf(yaml('https://api.partner.test', `    tenancy: true\n${URLS}`))).toEqual([])
  })

  it('accepts them when the endpoint URL has {tenant} or {{tenant}}', () => {
    expect(problemsOf(yaml('https://{tenant}.partner.test', URLS))).toEqual([])
    expect(problemsOf(yaml('https://api.partner.test/{{tenant}}/v1', URLS))).toEqual([])
  })

  it('follows profiles[].endpoint to the endpoint whose bundle calls the token URLs', () => {
    const other = `  - name: tenanted
    url: https://{tenant}.other.test
    tls: { cert: c.crt, key: c.key, roots: r.crt }
`
    expect(problemsOf(yaml('https://api.partner.test', `    endpoint: tenanted\n${URLS}`, other))).toEqual([])
    expect(problemsOf(yaml('https://{tenant}.partner.test', `    endpoint: plain\n${URLS}`, other.replace('tenanted', 'plain').replace('{tenant}.', ''))))
      .toHaveLength(3)
  })
})

describe('load: endpoint URL placeholders', () => {
  it('spells {{tenant}} as {tenant}, so the endpoint has tenancy and the tenant is filled', () => {
    const c = parseConfig(file, yaml('https://{{tenant}}.partner.test/v1/{{ tenant }}', URLS), { env: {} })
    expect(c.endpoints[0]?.url).toBe('https://{tenant}.partner.test/v1/{tenant}')
  })

  it('keeps every other placeholder as written: path-type authorization fields fill them', () => {
    const c = parseConfig(file, yaml('https://{{ tenant }}.partner.test/accounts/{{acct}}/items/{{only}}', URLS), { env: {} })
    expect(c.endpoints[0]?.url).toBe('https://{tenant}.partner.test/accounts/{{acct}}/items/{{only}}')
  })
})

/** Two endpoints (one on the profile, one maybe not) and one profile, each with optional fields. */
interface Shape {
  urls: [string, string]
  secondOnProfile: boolean
  profileTenancy: boolean
  endpointFields: [string | undefined, string | undefined]
  profileField: string | undefined
}

function shapeYaml(s: Shape): string {
  const field = (v: string | undefined, indent: string): string => (v === undefined ? '' : `${indent}fields: [{ type: header, key: X-Org, value: "${v}" }]\n`)
  return `endpoints:
  - name: first
    url: ${s.urls[0]}
    profile: partner
    tls: { cert: c.crt, key: c.key, roots: r.crt }
${field(s.endpointFields[0], '    ')}  - name: second
    url: ${s.urls[1]}
${s.secondOnProfile ? '    profile: partner\n' : ''}    tls: { cert: c.crt, key: c.key, roots: r.crt }
${field(s.endpointFields[1], '    ')}profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs
    token: { mode: none }
    tenancy: ${s.profileTenancy}
${field(s.profileField, '    ')}`
}

const TENANT_VALUES = ['{{tenant}}', 'org-{{ tenant }}', '{tenant}.x', '{{tenant}}-{{user}}']
const PLAIN_VALUES = ['org-1', '{{user}}', 'tenant', '{{claims.tenant}}', '{{ claims.org }}']
const TENANT_URLS = ['https://{tenant}.partner.test', 'https://api.partner.test/{{tenant}}/v1']
const PLAIN_URLS = ['https://api.partner.test', 'https://api.partner.test/tenant/v1']
const usesTenant = (v: string | undefined): boolean => v !== undefined && TENANT_VALUES.includes(v)

describe('load: {{tenant}} in an authorization field needs tenancy', () => {
  it('reports an endpoint field and a profile field that no request of an endpoint can fill', () => {
    const lines = problemsOf(shapeYaml({ urls: ['https://api.partner.test', 'https://{tenant}.b.test'], secondOnProfile: true, profileTenancy: false, endpointFields: ['{{tenant}}', '{{tenant}}'], profileField: 'org-{{ tenant }}' }))
    expect(lines).toEqual([
      `${file}:6:49: endpoints[0].fields[0].value: uses {{tenant}}, but endpoint "first" has no tenancy, so no request names a tenant (put {tenant} in its URL, or set tenancy: true on its profile)`,
      `${file}:18:49: profiles[0].fields[0].value: uses {{tenant}}, but endpoint "first" of profile "partner" has no tenancy, so its requests name no tenant (put {tenant} in its URL, or set tenancy: true on its profile)`,
    ])
  })

  it('accepts them once the profile has tenancy', () => {
    expect(problemsOf(shapeYaml({ urls: ['https://api.partner.test', 'https://api.b.test'], secondOnProfile: true, profileTenancy: true, endpointFields: ['{{tenant}}', '{{tenant}}'], profileField: '{{tenant}}' }))).toEqual([])
  })

  // The oracle is the request path's own rule (match_endpoint): an endpoint names a tenant
  // exactly when its URL has {tenant} or its profile has tenancy; a field with {{tenant}} on a
  // request that names none fails every time, so load must refuse exactly those configs.
  it('refuses a config exactly when some endpoint would apply a {{tenant}} field without a tenant (2,000 generated configs)', () => {
    const value = fc.option(fc.constantFrom(...TENANT_VALUES, ...PLAIN_VALUES), { nil: undefined })
    const url = fc.constantFrom(...TENANT_URLS, ...PLAIN_URLS)
    const shape: fc.Arbitrary<Shape> = fc.record({
      urls: fc.tuple(url, url),
      secondOnProfile: fc.boolean(),
      profileTenancy: fc.boolean(),
      endpointFields: fc.tuple(value, value),
      profileField: value,
    })
    fc.assert(
      fc.property(shape, (s) => {
        const tenancy = (i: 0 | 1): boolean => TENANT_URLS.includes(s.urls[i]) || ((i === 0 || s.secondOnProfile) && s.profileTenancy)
        const onProfile = (i: 0 | 1): boolean => i === 0 || s.secondOnProfile
        const broken = ([0, 1] as const).filter((i) => !tenancy(i) && (usesTenant(s.endpointFields[i]) || (onProfile(i) && usesTenant(s.profileField))))
        const lines = problemsOf(shapeYaml(s))
        expect(lines.length > 0).toBe(broken.length > 0)
        expect(lines.every((l) => l.includes('uses {{tenant}}'))).toBe(true)
        for (const i of broken) expect(lines.some((l) => l.includes(`"${i === 0 ? 'first' : 'second'}"`))).toBe(true)
      }),
      { seed: 0x7e4a, numRuns: 2_000 },
    )
  })
})

// A tenant's own client bundle (`tenants:`) is used only by requests that name the tenant, which
// only an endpoint with tenancy has. Before, one without was accepted: the bundles were loaded and
// never used, and a forward request naming the tenant (X-Gateway-Tenant: acme) presented the
// endpoint's shared certificate instead of the one the config gives acme.
describe('load: per-tenant client bundles need tenancy', () => {
  const withTenants = (url: string, profileTenancy: boolean): string =>
    yaml(url, `    tenancy: ${profileTenancy}\n${URLS.replaceAll('{tenant}', 'x').replaceAll('{{tenant}}', 'x')}`).replace('    tls: { cert: c.crt, key: c.key, roots: r.crt }\n', '    tls: { cert: c.crt, key: c.key, roots: r.crt }\n    tenants:\n      acme: { tls: { cert: a.crt, key: a.key, roots: r.crt } }\n')

  it('reports `tenants` on an endpoint whose requests never name a tenant, at its line', () => {
    expect(problemsOf(withTenants('https://api.partner.test', false))).toEqual([
      `${file}:7:7: endpoints[0].tenants: gives tenants their own client bundles, but endpoint "partner" has no tenancy, so no request names a tenant and each would present its tls bundle (put {tenant} in its URL, or set tenancy: true on its profile)`,
    ])
  })

  it('accepts it on an endpoint whose URL has {tenant}, or whose profile has tenancy (generated shapes)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TENANT_URLS, ...PLAIN_URLS), fc.boolean(), (url, profileTenancy) => {
        const lines = problemsOf(withTenants(url, profileTenancy))
        expect(lines.length > 0, `${url} tenancy: ${profileTenancy}`).toBe(!TENANT_URLS.includes(url) && !profileTenancy)
      }),
      { seed: 0x7e4b, numRuns: 40 },
    )
  })
})

describe('load: per-tenant client bundles of the endpoint a tenancy profile\'s token calls go through', () => {
  it('accepts them on an endpoint without tenancy that a `tenancy: true` profile names in `endpoint` (its dance names tenants)', () => {
    const text = `endpoints:
  - name: api
    url: https://api.partner.test
    tls: { cert: c.crt, key: c.key, roots: r.crt }
  - name: login
    url: https://login.partner.test
    tls: { cert: c.crt, key: c.key, roots: r.crt }
    tenants:
      acme: { tls: { cert: a.crt, key: a.key, roots: r.crt } }
profiles:
  - name: partner
    endpoint: login
    consumerKey: ck
    consumerSecret: cs
    token: { mode: per_user }
    tenancy: TENANCY
${URLS.replaceAll('{tenant}', 'x').replaceAll('{{tenant}}', 'x')}`
    expect(problemsOf(text.replace('TENANCY', 'true'))).toEqual([])
    expect(problemsOf(text.replace('TENANCY', 'false'))).toEqual([expect.stringContaining('endpoints[1].tenants: gives tenants their own client bundles, but endpoint "login" has no tenancy')])
  })
})
