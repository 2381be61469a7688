/**
 * admin.consoleOrigins with `serve --workers 2` (the primary serves the console) and a hot reload:
 * a sign-in POST as a TLS-terminating proxy forwards it (plain http, Host the Ingress name, the
 * browser's https Origin) is refused 403 until a SIGHUP reload lists that origin, then accepted;
 * and a client's own X-Forwarded-Proto / X-Forwarded-Host never make another origin the console's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually } from '../ops/helpers.js'
import { adminRequest, CONSOLE_TOKEN } from './console-support.js'

const TOKEN_ENV = 'MTLS_GATEWAY_TEST_CONSOLE_TOKEN'
const NAME = 'gw-admin.example.com'
const ORIGIN = `https://${NAME}`
let gp: GatewayProcess
let dir: string
let loginUrl: string

const yaml = (origins: string[]): string => `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "\${env:${TOKEN_ENV}}", allowedHosts: [${NAME}], consoleOrigins: [${origins.map((o) => JSON.stringify(o)).join(', ')}] }
callers: { required: false }
endpoints: []
`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'console-origins-workers-'))
  writeFileSync(join(dir, 'gateway.yaml'), yaml([]))
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'], { [TOKEN_ENV]: CONSOLE_TOKEN })
  loginUrl = `${await adminUrlOf(gp)}/console/api/login`
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const proxied = (): ReturnType<typeof adminRequest> => adminRequest(loginUrl, { method: 'POST', origin: ORIGIN, body: { token: CONSOLE_TOKEN }, headers: { host: NAME, 'x-forwarded-proto': 'https', 'x-forwarded-host': NAME } })

describe('admin.consoleOrigins with --workers 2', () => {
  it('refuses the proxied sign-in until a reload lists the origin, then accepts it; forwarded headers never decide', async () => {
    const before = await proxied()
    expect(before.status, before.text).toBe(403)
    expect(JSON.parse(before.text)).toEqual({ errors: [{ msg: 'console actions are accepted only from the console page itself', code: 403 }] })

    writeFileSync(join(dir, 'gateway.yaml'), yaml([ORIGIN]))
    gp.child.kill('SIGHUP')
    const after = await eventually(async () => {
      const r = await proxied()
      return r.status === 200 && r
    }, 30_000, 'the reload to accept the configured origin')
    expect(String(after.headers['set-cookie'])).toContain('mtls_gateway_console=')

    // Another origin with forwarded headers claiming https and the configured host: still refused.
    const admin = new URL(loginUrl)
    const forged = await adminRequest(loginUrl, { method: 'POST', origin: `https://${admin.host}`, body: { token: CONSOLE_TOKEN }, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': admin.host } })
    expect(forged.status, forged.text).toBe(403)
    // The configured host on another port is another origin.
    const otherPort = await adminRequest(loginUrl, { method: 'POST', origin: `${ORIGIN}:8443`, body: { token: CONSOLE_TOKEN }, headers: { host: NAME, 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' } })
    expect(otherPort.status, otherPort.text).toBe(403)
  }, 120_000)
})
