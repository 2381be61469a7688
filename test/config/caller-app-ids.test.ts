/**
 * A caller app's client id names one app and one user space (review rev-d). "-" is what the
 * callers without an app are (their user space is ""): an app of that id made every caller
 * without credentials (callers.required: false, X-Gateway-User) that app's users, tokens
 * included. A second entry with an app's client id (a certificate app beside a JWT app, or two
 * certificate apps) silently gave both one user space, the last entry's.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'

const SECRET = 'a'.repeat(32)
const yaml = (apps: string): string =>
  `callers:\n  required: false\n  apps:\n${apps}endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: c.crt, key: c.key, roots: r.crt }\n`
const problems = (apps: string): string => {
  try {
    parseConfig('/tmp/apps.yaml', yaml(apps))
    return ''
  } catch (e) {
    return String(e)
  }
}

describe('callers.apps[].clientId', () => {
  it('"-" is reserved for callers without an app', () => {
    expect(problems(`    - { clientId: "-", audience: gw, hs256Secret: "${SECRET}", endpoints: ["*"] }\n`)).toMatch(/callers\.apps\[0\]\.clientId: "-" is reserved for callers without an app/)
  })

  it('a client id names one app: a certificate entry beside a JWT entry, or two certificate entries, are refused', () => {
    const jwtThenCert = `    - { clientId: shop, audience: gw, hs256Secret: "${SECRET}", endpoints: ["*"] }\n    - { clientId: shop, audience: gw, clientCertificate: { subject: legacy }, userSpace: legacy, endpoints: ["*"] }\n`
    expect(problems(jwtThenCert)).toMatch(/callers\.apps\[1\]\.clientId: duplicate client id "shop" \(also callers\.apps\[0\]\)/)
    const twoCerts = `    - { clientId: shop, audience: gw, clientCertificate: { subject: a }, endpoints: ["*"] }\n    - { clientId: shop, audience: gw, clientCertificate: { subject: b }, userSpace: other, endpoints: ["*"] }\n`
    expect(problems(twoCerts)).toMatch(/duplicate client id "shop"/)
    // One entry known both ways is one app; distinct ids are fine.
    expect(problems(`    - { clientId: shop, audience: gw, hs256Secret: "${SECRET}", clientCertificate: { subject: a }, endpoints: ["*"] }\n    - { clientId: legacy, audience: gw, clientCertificate: { subject: b }, endpoints: ["*"] }\n`)).toBe('')
  })
})

describe('callers.apps[].clientCertificate', () => {
  const cert = (id: string, match: string): string => `    - { clientId: ${id}, audience: gw, clientCertificate: ${match}, endpoints: ["*"] }\n`
  it('an app an earlier one always wins over (the first match wins) is refused at its line: {} takes every certificate, the same subject twice', () => {
    expect(problems(cert('any', '{}') + cert('ops', '{ subject: ops }'))).toMatch(/callers\.apps\[1\]\.clientCertificate: app "ops" can never be identified by its certificate: app "any" \(callers\.apps\[0\]\) comes first/)
    expect(problems(cert('ops', '{ subject: ops }') + cert('ops2', '{ subject: ops, san: ops.internal }'))).toMatch(/app "ops2" can never be identified by its certificate: app "ops" \(callers\.apps\[0\]\)/)
    expect(problems(cert('bysan', '{ san: a.internal }') + cert('both', '{ subject: x, san: a.internal }'))).toMatch(/app "both" can never be identified/)
    // Each reachable: the narrower first, or another subject; {} last takes what none before it did.
    expect(problems(cert('ops2', '{ subject: ops, san: ops.internal }') + cert('ops', '{ subject: ops }') + cert('other', '{ subject: other }') + cert('any', '{}'))).toBe('')
  })
})
