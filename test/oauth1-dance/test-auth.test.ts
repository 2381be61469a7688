/**
 * "Test authorization": `mtls-gateway test-auth <profile>` (the dist build) and
 * POST /gateway/oauth1/<profile>/test run the request-token step over mTLS. Success says
 * so; a wrong consumer secret shows the provider's status, headers and body, and never
 * the secret.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { ADMIN_TOKEN, CONSUMER, gatewayYaml, startDanceProvider, type DanceProvider } from './dance-support.js'

const WRONG_SECRET = 'wrong-consumer-secret-zz9'
let pki: TestPki
let provider: DanceProvider
let dir: string
let good: string
let bad: string
let gw: RunningGateway

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  assertDistFresh()
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 100_000 }) // a bound for a hung CLI, not a speed check: a start at load 30 took over 20 s
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-test-auth-'))
  const store = { kind: 'sqlite' as const, file: join(dir, 'state.db') }
  good = join(dir, 'good.yaml')
  bad = join(dir, 'bad.yaml')
  writeFileSync(good, gatewayYaml({ pki, provider, store }))
  writeFileSync(bad, gatewayYaml({ pki, provider, store, consumerSecret: WRONG_SECRET }))
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store, consumerSecret: WRONG_SECRET }))
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('test-auth', () => {
  it('succeeds with the right consumer secret (exit 0)', () => {
    const r = cli('test-auth', 'partner', '--config', good)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('Auth Test Succeeded')
    expect(r.stdout).toContain('obtained a request token')
    expect(r.stdout).toContain('endpoint "partner"')
  })

  it('a wrong consumer secret shows the provider\'s status, headers and body, not the secret (exit 1)', () => {
    const r = cli('test-auth', 'partner', '--config', bad)
    expect(r.status).toBe(1)
    const out = r.stdout + r.stderr
    expect(out).toMatch(/^Auth Test Failed/)
    expect(out).toContain('HTTP 401')
    expect(out).toMatch(/\nHeaders\n( {2}\S.*\n)* {2}content-type: application\/x-www-form-urlencoded\n/)
    expect(out).toMatch(/\nResponse\n {2}error=/)
    expect(out).not.toContain(WRONG_SECRET)
    expect(out).not.toContain(CONSUMER.secret)
  })

  it('an unknown profile fails with exit 1', () => {
    const r = cli('test-auth', 'nope', '--config', good)
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('no profile named "nope"')
  })

  it('POST /gateway/oauth1/<profile>/test needs the admin token and reports the failure as JSON', async () => {
    expect((await send(gw.url, '/gateway/oauth1/partner/test', { method: 'POST' })).status).toBe(401)
    const res = await send(gw.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.status, res.text).toBe(200)
    const body = res.json<{ ok: boolean; response: { status: number; headers: Record<string, string>; body: string }; report: string }>()
    expect(body.ok).toBe(false)
    expect(body.response.status).toBe(401)
    expect(body.response.headers['content-type']).toMatch(/form-urlencoded/)
    expect(body.report).toContain('Auth Test Failed')
    expect(res.text).not.toContain(WRONG_SECRET)
  })
})
