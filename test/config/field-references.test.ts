/**
 * `check` reports a URL or field template naming a field that neither the profile's
 * additionalFields nor its userFields define, and a URL template that puts a value where
 * it could move the origin; each at its file:line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-fieldrefs-'))
// Per-user tokens need seal keys, and check refuses what a start would refuse.
const SEAL_KEY = Buffer.alloc(32, 7).toString('base64')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function check(profileLines: string, endpointFields = ''): { ok: boolean; lines: string[] } {
  const file = join(dir, 'gateway.yaml')
  writeFileSync(
    file,
    `endpoints:
  - name: partner
    url: https://api.partner.test
    profile: partner
    tls: { cert: c.crt, key: c.key, roots: r.crt }
${endpointFields}profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs
    token: { mode: per_user }
${profileLines}store:
  sealKeys: [{ id: k1, key: "${SEAL_KEY}" }]
`,
  )
  const r = runCheck(file)
  return { ok: r.ok, lines: r.output.split('\n').filter((l) => l.startsWith(file)) }
}

describe('check: field references in templates', () => {
  it('accepts templates whose fields come from additionalFields or userFields', () => {
    const r = check(`    additionalFields: { service: ZSRV }
    userFields: [pin]
    requestTokenUrl: https://{tenant}.partner.test/sap/{{fields.service}}/request_token
    accessTokenUrl: https://{{tenant}}.partner.test/access_token?u={{user}}
    authorizeUrl: https://login.partner.test/{{fields.pin}}/authorize?$format=json
    tenancy: true
    fields: [{ type: header, key: X-Pin, value: "{{fields.pin}}" }]
`)
    // The bundle files do not exist; only those problems remain.
    expect(r.lines.every((l) => /tls\.(cert|key|roots)|cannot read/.test(l))).toBe(true)
  })

  it('names each unknown field at its line and key', () => {
    const r = check(
      `    additionalFields: { service: ZSRV }
    requestTokenUrl: https://api.partner.test/{{fields.service}}/request_token
    accessTokenUrl: https://api.partner.test/access_token
    authorizeUrl: https://login.partner.test/sap/{{fields.authfield1}}/?$format=json
    fields: [{ type: query, key: acct, value: "{{fields.account}}" }]
`,
      '    fields: [{ type: header, key: X-Org, value: "{{fields.org}}" }]\n',
    )
    expect(r.ok).toBe(false)
    const f = join(dir, 'gateway.yaml')
    expect(r.lines).toEqual([
      `${f}:15:19: profiles[0].authorizeUrl: {{fields.authfield1}} names a field profile "partner" does not define (add it to additionalFields or userFields)`,
      `${f}:16:47: profiles[0].fields[0].value: {{fields.account}} names a field profile "partner" does not define (add it to additionalFields or userFields)`,
      `${f}:6:49: endpoints[0].fields[0].value: {{fields.org}} names a field profile "partner" does not define (add it to additionalFields or userFields)`,
    ])
  })

  it('refuses a URL template that could move the origin', () => {
    const r = check(`    userFields: [host]
    requestTokenUrl: https://{{fields.host}}.partner.test/request_token
    accessTokenUrl: https://api.partner.test/access_token
    authorizeUrl: https://login.partner.test/authorize?pin={{claims.pin}}
    callbackUrl: https://gw.example/{{user}}/gateway/oauth1/callback
`)
    expect(r.lines.map((l) => l.replace(/^.*?: /, ''))).toEqual([
      'profiles[0].requestTokenUrl: only {tenant} may appear in the host, and not in the port or userinfo',
      'profiles[0].authorizeUrl: {{claims.pin}} cannot be used in a URL: the dance has no caller assertion',
      'profiles[0].callbackUrl: is the gateway\'s own URL: only {tenant} may be used in it',
    ])
  })
})
