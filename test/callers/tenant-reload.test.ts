/**
 * A hot reload that adds or removes a tenant from an app's `tenants`, or drops the rule,
 * answers exactly like a fresh start with the same file, on every way in, including inside
 * a CONNECT tunnel opened before the reload. Refusals count as caller auth failures
 * (`reason="not_allowed"`), like a disallowed endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createLog, createOps, type Ops } from '../../src/ops/index.js'
import { startTestGateway } from '../support/gateway.js'
import { parseMetrics, replaceFile, valueOf } from '../ops/helpers.js'
import { allowed, APPS, bearerFor, callUnder, startTenantFixture, Tunnels, WAYS, type TenantFixture } from './tenant-support.js'

let f: TenantFixture
let dir: string
let gw: RunningGateway
let ops: Ops
let tunnels: Tunnels
const TENANTS = ['acme', 'globex', 'initech']

beforeAll(async () => {
  f = await startTenantFixture()
  dir = mkdtempSync(join(tmpdir(), 'tenant-reload-'))
  ops = createOps({ log: createLog({ level: 'fatal' }), admin: false, watch: false })
  gw = await startTestGateway(dir, f.yaml({ kind: 'sqlite', file: join(dir, 'state.db') }), { ops })
  tunnels = new Tunnels(f)
})

afterAll(async () => {
  tunnels?.destroy()
  await gw?.close()
  await f?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every app × tenant × way: the status and, when served, the client certificate the upstream saw. */
async function outcomes(url: string, t: Tunnels): Promise<string[]> {
  const out: string[] = []
  for (const app of APPS) {
    for (const tenant of TENANTS) {
      for (const way of WAYS) {
        const r = await callUnder(f, t, url, way, await bearerFor(app, tenant), tenant)
        out.push(`${app} ${tenant} ${way}: ${r.status} ${r.status === 200 ? (JSON.parse(r.text) as { clientSubject: string }).clientSubject : (JSON.parse(r.text) as { errors: { msg: string }[] }).errors[0]?.msg}`)
      }
    }
  }
  return out
}

/** What the model says for acme-app's `tenants` (undefined: no rule), in the shape of outcomes(). */
function expected(acmeAppTenants: readonly string[] | undefined): boolean[] {
  return APPS.flatMap((app) => TENANTS.flatMap((tenant) => WAYS.map(() => (app === 'acme-app' && acmeAppTenants === undefined ? true : allowed(app, tenant, tenant, acmeAppTenants)))))
}

const notAllowed = async (): Promise<number> => valueOf(parseMetrics(await ops.metrics.registry.metrics()), 'mtls_gateway_caller_auth_failures_total', { reason: 'not_allowed' }) ?? 0

describe('hot reload of a tenant restriction', () => {
  it.each([
    ['adds globex', 'tenants: [acme, globex]', ['acme', 'globex']],
    ['removes acme', 'tenants: [globex]', ['globex']],
    ['drops the rule', '', undefined],
    ['restores [acme]', 'tenants: [acme]', ['acme']],
  ] as const)('a reload that %s answers like a fresh start with the same file', async (_what, rule, acmeAppTenants) => {
    // A tunnel of acme-app opened before the reload: its next inner requests follow the new rule.
    await callUnder(f, tunnels, gw.url, 'connect', await bearerFor('acme-app', 'acme'), 'acme')
    replaceFile(join(dir, 'gateway.yaml'), f.yaml({ kind: 'sqlite', file: join(dir, 'state.db') }, rule))
    expect(await gw.ops?.reload('test')).toMatchObject({ ok: true })
    const failuresBefore = await notAllowed()
    const reloaded = await outcomes(gw.url, tunnels)
    const freshDir = mkdtempSync(join(tmpdir(), 'tenant-fresh-'))
    const fresh = await startTestGateway(freshDir, f.yaml({ kind: 'sqlite', file: join(freshDir, 'state.db') }, rule))
    const freshTunnels = new Tunnels(f)
    try {
      expect(reloaded).toEqual(await outcomes(fresh.url, freshTunnels))
    } finally {
      freshTunnels.destroy()
      await fresh.close()
      rmSync(freshDir, { recursive: true, force: true })
    }
    expect(reloaded.map((line) => line.includes(': 200 '))).toEqual(expected(acmeAppTenants))
    // Every refusal counted as a caller authorization failure, like a disallowed endpoint.
    expect(await notAllowed()).toBe(failuresBefore + reloaded.filter((line) => line.includes(': 403 ')).length)
  }, 120_000)
})
