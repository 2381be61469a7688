/**
 * The Endpoints API: one row per endpoint and per tenant bundle; a tenant whose own
 * certificate expired is degraded on its row only (as endpoint_degraded says), with
 * negative days left; the other tenants' row serves.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { adminRequest, apiSession, CONSOLE_TOKEN } from './console-support.js'

let pki: TestPki
let dir: string
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'console-endpoints-'))
  const old = await pki.issue({ subject: 'CN=old-acme', issuer: pki.inter, usages: ['clientAuth'], notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') })
  const acme = { ...pki.writePair('old-acme', old), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  const tls = clientTls(pki)
  const tenants = `    tenants:\n      acme:\n        tls: ${JSON.stringify(acme)}\n`
  const multi = endpointYaml('multi', 9, tls, tenants).replace(':9\n', ':9/t/{tenant}\n')
  g = await startOpsGateway(dir, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0, token: ${CONSOLE_TOKEN} }\nendpoints:\n${multi}`, { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('console endpoints', () => {
  it('shows the endpoint and each tenant bundle; only the expired tenant is degraded', async () => {
    const consoleUrl = `${g.adminUrl}/console/`
    const s = await apiSession(consoleUrl)
    const r = await adminRequest(`${consoleUrl}api/endpoints`, { cookie: s.cookie })
    expect(r.status, r.text).toBe(200)
    const rows = (JSON.parse(r.text) as { rows: { endpoint: string; tenant?: string; subject: string; daysLeft: number; degraded: string[]; certificates: unknown[] }[] }).rows
    expect(rows.map((x) => [x.endpoint, x.tenant ?? null])).toEqual([['multi', null], ['multi', 'acme']])
    const [own, acme] = rows as [(typeof rows)[0], (typeof rows)[0]]
    expect(own.degraded).toEqual([])
    expect(acme.subject).toBe('CN=old-acme')
    expect(acme.degraded).toEqual(['client_cert_expired'])
    expect(acme.daysLeft).toBeLessThan(0)
    expect((acme as { daysLeftText?: string }).daysLeftText).toMatch(/^expired (<1 day|\d+ days?) ago$/)
    expect(acme.certificates.length).toBeGreaterThanOrEqual(2)
    expect(r.text).not.toContain('PRIVATE KEY')
  })
})
