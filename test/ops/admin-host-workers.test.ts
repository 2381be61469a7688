/**
 * With `serve --workers 2` the cluster primary serves the admin listener: it answers only for
 * IP literals, localhost and admin.allowedHosts (DNS rebinding), and a SIGHUP reload that
 * changes the list applies it as a fresh start would. Real spawned gateway, raw sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { eventually, scrape, valueOf } from './helpers.js'

let pki: TestPki
let dir: string
let gp: GatewayProcess
let admin: string

const yamlWith = (allowed: string[]): string => `admin:\n  host: 127.0.0.1\n  port: 0\n  allowedHosts: [${allowed.join(', ')}]\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'admin-host-workers-'))
  writeFileSync(join(dir, 'gateway.yaml'), yamlWith(['ops.example.test']))
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'])
  admin = await adminUrlOf(gp)
}, 120_000)
afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const statusFor = async (host: string): Promise<number> =>
  (await rawRoundTrip(Number(new URL(admin).port), `GET /metrics HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status

describe('the admin listener of serve --workers 2 and the Host header', () => {
  it('answers IP literals, localhost and the listed names only, and takes a new list on SIGHUP', async () => {
    expect(await statusFor('127.0.0.1:9090')).toBe(200)
    expect(await statusFor('[::1]')).toBe(200)
    expect(await statusFor('localhost')).toBe(200)
    expect(await statusFor('OPS.example.test.')).toBe(200)
    expect(await statusFor('rebind.attacker.test')).toBe(421)
    writeFileSync(join(dir, 'gateway.yaml'), yamlWith(['scrape.example.test']))
    gp.child.kill('SIGHUP')
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 60_000, 'the reload to succeed')
    expect(await statusFor('ops.example.test')).toBe(421)
    expect(await statusFor('scrape.example.test')).toBe(200)
  })
})
