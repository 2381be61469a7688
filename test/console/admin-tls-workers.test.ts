/**
 * `serve --workers 2`: the cluster primary serves the admin listener over TLS as a single
 * process does — a required client certificate refused at the handshake when missing,
 * /readyz and /metrics (summed over the workers) with one, and the console signing in an
 * allow-listed certificate.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { adminTlsEnv, adminTlsYaml, createAdminPki, curl, curlFailure, type AdminPki } from './admin-tls-support.js'

let a: AdminPki
let gp: GatewayProcess
let dir: string
let admin: string

beforeAll(async () => {
  a = await createAdminPki()
  dir = mkdtempSync(join(tmpdir(), 'admin-tls-workers-'))
  writeFileSync(join(dir, 'gateway.yaml'), adminTlsYaml(a.pki, { tls: true, requireClientCert: true }))
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'], adminTlsEnv(a.pki))
  admin = (await adminUrlOf(gp)).replace('127.0.0.1', 'localhost')
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  if (dir) rmSync(dir, { recursive: true, force: true })
  a?.pki.cleanup()
})

describe('admin TLS with --workers 2', () => {
  it('the primary serves HTTPS: no certificate is refused, a certificate reaches /readyz and /metrics, the console signs it in', async () => {
    expect(admin).toMatch(/^https:\/\/localhost:\d+$/)
    const none = await curlFailure(`${admin}/readyz`, { pki: a.pki })
    expect(none).toEqual({ code: 56, stderr: expect.stringMatching(/:tlsv13 alert certificate required,/) })
    const ready = await curl(`${admin}/readyz`, { pki: a.pki, as: a.mallory })
    expect(ready.status, ready.body).toBe(200)
    const metrics = await curl(`${admin}/metrics`, { pki: a.pki, as: a.mallory })
    expect(metrics.body).toContain('mtls_gateway_worker_restarts_total 0')
    const session = await curl(`${admin}/console/api/session`, { pki: a.pki, as: a.alice })
    expect(JSON.parse(session.body)).toMatchObject({ who: 'cert:CN=ops-alice, O=mtls-gateway tests', via: 'certificate' })
    expect((await curl(`${admin}/console/api/session`, { pki: a.pki, as: a.mallory })).status).toBe(401)
    const overview = await curl(`${admin}/console/api/overview`, { pki: a.pki, as: a.alice })
    expect(JSON.parse(overview.body)).toMatchObject({ workers: 2 })
  })
})
