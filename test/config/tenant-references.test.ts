/**
 * A profile URL with `{tenant}` whose profile never has a tenant would fail every dance
 * request with 400, so load (start, reload, `check`) reports it at its file:line:column.
 * An endpoint URL's `{tenant}` gives the endpoint tenancy, in either spelling.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'

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

function problemsOf(text: string): string[] {
  try {
    parseConfig(file, text, { env: {} })
    return []
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).message.split('\n').filter((l) => l.startsWith(file))
  }
}

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
