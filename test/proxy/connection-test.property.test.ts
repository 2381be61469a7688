/**
 * The connection test takes an endpoint name and a tenant from the console or the command line;
 * as a property (fast-check, seeded), whatever they are it dials only the endpoint's configured
 * origin: for generated names and tenants (any text, host-like strings, ports, userinfo, dots,
 * percent-escapes, letter case), the test is refused before any lookup (an unknown endpoint, a
 * tenant that is not one DNS label), or the only name looked up is the configured host with the
 * tenant's canonical label in its slot, at the configured port. Every lookup is answered with a
 * loopback port that refuses, so nothing leaves the machine.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalTenant, loadConfig } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import { testEndpointConnection } from '../../src/proxy/connection-test.js'
import { refusingPort } from '../support/peers.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let gateway: Gateway
let port: number
/** The names the dials looked up, in order. */
const looked: string[] = []

beforeAll(async () => {
  pki = await createTestPki()
  port = await refusingPort()
  const tls = clientTls(pki)
  const tlsYaml = `{ cert: ${tls.cert}, key: ${tls.key}, intermediates: ${tls.intermediates}, roots: ${tls.roots} }`
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:
  - { name: fixed, url: "https://api.partner.test:${port}/v1", allowPrivate: true, tls: ${tlsYaml} }
  - { name: tenanted, url: "https://{tenant}.partner.test:${port}/t", allowPrivate: true, tls: ${tlsYaml} }
`)
  gateway = compileGateway(loadConfig(file), {
    resolve: (host, _options, callback) => {
      looked.push(host)
      callback(null, [{ address: '127.0.0.1', family: 4 }])
    },
  })
})

afterAll(async () => {
  await gateway?.close()
  pki?.cleanup()
})

const tenantArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9.-]{1,70}$/),
  fc.constantFrom('acme', 'ACME', 'a.b', 'x@evil.test', '127.0.0.1', '..', 'evil.test:443', 'acme/..', '%2e', 'acme.', ' acme', 'xn--80ak6aa92e', 'a'.repeat(64), ''),
  fc.constant(undefined),
)
const nameArb = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('fixed', 'tenanted') }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('Fixed', 'tenanted ', '../fixed', '__proto__', 'constructor')) })

describe('the connection test dials only the configured origin', () => {
  it('generated endpoint names and tenants (fast-check, seeded)', async () => {
    const seen = { refused: 0, dialled: 0 }
    await fc.assert(
      fc.asyncProperty(nameArb, tenantArb, async (name, tenant) => {
        looked.length = 0
        const outcome = await testEndpointConnection(gateway, name, tenant).then((r) => ({ r }), (e: unknown) => ({ e }))
        if ('e' in outcome) {
          if (!(outcome.e instanceof GatewayError)) throw outcome.e
          expect(['not_found', 'tenant_invalid']).toContain(outcome.e.reason)
          expect(looked).toEqual([])
          seen.refused++
          return
        }
        const report = outcome.r
        const label = tenant === undefined || tenant === '' ? undefined : canonicalTenant(tenant)
        const host = name === 'fixed' ? 'api.partner.test' : `${label}.partner.test`
        expect(report.url).toBe(`https://${host}:${port}${name === 'fixed' ? '/v1' : '/t'}`)
        expect(report.error?.reason).toBe('upstream_connect_refused')
        expect(new Set(looked)).toEqual(new Set([host]))
        seen.dialled++
      }),
      { seed: 20261206, numRuns: 400 },
    )
    expect(seen.refused).toBeGreaterThan(50)
    expect(seen.dialled).toBeGreaterThan(50)
  }, 120_000)
})
