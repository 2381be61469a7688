/**
 * Loading a caller app's tenant restriction (`tenants`, `tenantClaim`): every mistake is
 * refused at its file:line:key, by the schema or by the rules that need the endpoints, and
 * `mtls-gateway check` prints the same lines.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-caller-tenants-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'

/** A config whose first app line is `app` (line 4); "tenanted" has tenancy through its profile, "templated" through its URL, "plain" none. */
const yaml = (app: string, more = ''): string => `callers:
  apps:
    - { clientId: other, hs256Secret: "${HS}-other", audience: aud, endpoints: [plain] }
${app}
${more}profiles:
  - { name: tp, consumerKey: ck, consumerSecret: cs, tenancy: true }
endpoints:
  - { name: tenanted, url: "https://api.partner.test", profile: tp, tls: { cert: c.crt, key: c.key, roots: r.crt } }
  - { name: templated, url: "https://api.partner.test/t/{tenant}", tls: { cert: c.crt, key: c.key, roots: r.crt } }
  - { name: plain, url: "https://plain.partner.test", tls: { cert: c.crt, key: c.key, roots: r.crt } }
`
const app = (fields: string): string => `    - { clientId: bot, hs256Secret: "${HS}", audience: aud, ${fields} }`

/** `file:4:<column>` of the first `needle` on line 4 (the app under test). */
const at = (text: string, needle: string): string => `${file}:4:${(text.split('\n')[3] ?? '').indexOf(needle) + 1}`

const problemsOf = (text: string): string[] => configErrorLines(() => parseConfig(file, text, { env: {} }))

describe('callers.apps[].tenants and tenantClaim', () => {
  it('normalises both; absent, the app has neither (any tenant, as before)', () => {
    const c = parseConfig(file, yaml(app('endpoints: [tenanted, plain], tenants: [acme, globex], tenantClaim: org')), { env: {} })
    expect(c.callers.apps[1]).toMatchObject({ clientId: 'bot', tenants: ['acme', 'globex'], tenantClaim: 'org' })
    expect(c.callers.apps[0]).not.toHaveProperty('tenants')
    expect(c.callers.apps[0]).not.toHaveProperty('tenantClaim')
    // '*' counts every endpoint: one with tenancy is enough; tenancy by the URL counts as well.
    expect(() => parseConfig(file, yaml(app('endpoints: ["*"], tenants: [acme]')), { env: {} })).not.toThrow()
    expect(() => parseConfig(file, yaml(app('endpoints: [templated], tenantClaim: org')), { env: {} })).not.toThrow()
  })

  it('refuses unknown keys, empty lists, duplicates, tenants that are not lower-case DNS labels, and an empty claim name', () => {
    const typo = yaml(app('endpoints: [tenanted], tenant: [acme]'))
    expect(problemsOf(typo)).toEqual([`${at(typo, 'tenant:')}: callers.apps[1].tenant: unknown key (did you mean tenants?)`])
    const empty = yaml(app('endpoints: [tenanted], tenants: []'))
    expect(problemsOf(empty)).toEqual([`${at(empty, '[]')}: callers.apps[1].tenants: must NOT have fewer than 1 items`])
    const twice = yaml(app('endpoints: [tenanted], tenants: [acme, acme]'))
    expect(problemsOf(twice)).toEqual([`${at(twice, '[acme,')}: callers.apps[1].tenants: must NOT have duplicate items (items ## 1 and 0 are identical)`])
    const labels = problemsOf(yaml(app('endpoints: [tenanted], tenants: [Acme, acme.corp, -x, "", a_b]'))).map((l) => l.replace(/^.*?: callers/, 'callers'))
    expect(labels).toEqual([0, 1, 2, 3, 4].map((i) => `callers.apps[1].tenants[${i}]: must match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`))
    expect(problemsOf(yaml(app('endpoints: [tenanted], tenants: [' + 'a'.repeat(64) + ']')))[0]).toContain('callers.apps[1].tenants[0]: must match')
    const noName = yaml(app('endpoints: [tenanted], tenantClaim: ""'))
    expect(problemsOf(noName)).toEqual([`${at(noName, '""')}: callers.apps[1].tenantClaim: must NOT have fewer than 1 characters`])
  })

  it('refuses a restriction on an app none of whose endpoints has tenancy, naming them', () => {
    const plain = yaml(app('endpoints: [plain], tenants: [acme]'))
    expect(problemsOf(plain)).toEqual([
      `${at(plain, '[acme]')}: callers.apps[1].tenants: app "bot" restricts tenants, but none of its endpoints ("plain") has tenancy, so no call of it names a tenant (tenancy: {tenant} in an endpoint's URL, or tenancy: true on its profile)`,
    ])
    const missing = yaml(app('endpoints: [missing], tenantClaim: org'))
    // The unknown endpoint is a problem of its own too (checkCallerEndpoints).
    expect(problemsOf(missing)).toEqual([
      `${at(missing, 'missing')}: callers.apps[1].endpoints[0]: app "bot" names endpoint "missing", which is not configured (endpoints: "tenanted", "templated", "plain")`,
      `${at(missing, 'org }')}: callers.apps[1].tenantClaim: app "bot" restricts tenants, but it may use no configured endpoint, so no call of it names a tenant (tenancy: {tenant} in an endpoint's URL, or tenancy: true on its profile)`,
    ])
  })

  it('refuses an app that names an endpoint not configured, each such name at its line and column; "*" names them all', () => {
    const typo = yaml(app('endpoints: [tenanted, tenantd, plian]'))
    expect(problemsOf(typo)).toEqual([
      `${at(typo, 'tenantd')}: callers.apps[1].endpoints[1]: app "bot" names endpoint "tenantd", which is not configured (endpoints: "tenanted", "templated", "plain")`,
      `${at(typo, 'plian')}: callers.apps[1].endpoints[2]: app "bot" names endpoint "plian", which is not configured (endpoints: "tenanted", "templated", "plain")`,
    ])
    expect(() => parseConfig(file, yaml(app('endpoints: ["*"]')), { env: {} })).not.toThrow()
  })

  it('refuses tenantClaim on an app known only by its client certificate (it carries no claims)', () => {
    const certApp = '    - { clientId: cert, audience: aud, endpoints: [tenanted], tenantClaim: org, clientCertificate: { subject: cn } }'
    expect(problemsOf(yaml(certApp))).toEqual([
      `${at(yaml(certApp), 'org,')}: callers.apps[1].tenantClaim: app "cert" is known only by its client certificate, which carries no claims: give hs256Secret or rs256PublicKey, or use tenants`,
    ])
    expect(() => parseConfig(file, yaml(certApp.replace('tenantClaim: org', 'tenants: [acme]')), { env: {} })).not.toThrow()
  })

  it('mtls-gateway check prints the same problems, one line each, and exits 1', async () => {
    assertDistFresh()
    const bad = join(dir, 'check.yaml')
    writeFileSync(bad, yaml(app('endpoints: [plain], tenants: [acme]')))
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check', '--config', bad]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    )
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n').filter((l) => l.startsWith(bad))).toEqual([
      `${at(yaml(app('endpoints: [plain], tenants: [acme]')), '[acme]').replace(file, bad)}: callers.apps[1].tenants: app "bot" restricts tenants, but none of its endpoints ("plain") has tenancy, so no call of it names a tenant (tenancy: {tenant} in an endpoint's URL, or tenancy: true on its profile)`,
    ])
  })
})
