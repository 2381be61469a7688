/**
 * apply_authorization's shortcut for an endpoint whose fields are all header fields of fixed text
 * (judged once per fields list, not rendered per request): over generated values and caller
 * headers it sets what the same values rendered from claims set, or refuses them with the same
 * 400; and a reload that changes such a value sends the new one.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import type { CompiledField } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf } from '../ops/helpers.js'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply } from '../support/tls-server.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** The step on a request with these caller headers; the headers it leaves, in order, or its refusal. */
function outcome(fields: CompiledField[], claims: Record<string, string>, callerHeaders: readonly string[]): unknown {
  const headers = Object.fromEntries(callerHeaders.map((h) => [h, `caller ${h}`]))
  const ctx = { endpoint: { name: 'ep', fields }, caller: { appId: 'bot', claims }, auth: {}, outbound: { headers } } as unknown as Admitted
  try {
    expect(applyAuthorization.run(ctx)).toBeUndefined()
    return Object.entries(ctx.outbound.headers)
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    return `${err.reason}: ${err.message}`
  }
}

describe('literal header fields', () => {
  // Valid, empty, edge whitespace, controls, non-ASCII, a lone surrogate; no braces (a placeholder).
  const value = fc.oneof(fc.constantFrom('acme', '', ' lead', 'trail ', 'in side', 'tab\there', 'ctl\x01', 'del\x7f', 'é', '\ud800', 'a"b'), fc.string({ unit: 'binary', maxLength: 8 }).filter((s) => !/[{}]/.test(s)))
  const spec = fc.record({ key: fc.constantFrom('x-org', 'x-api-key', 'x-a'), value, literal: fc.boolean() })
  // The gateway's names, their CGI shadows and an unrelated header.
  const caller = fc.subarray(['x_org', 'x.org', 'x-org', 'x_api_key', 'x-api-key', 'x_a', 'accept'])

  it('set the headers the same values rendered from claims set, or the same refusal (3,000 field lists)', () => {
    let literalOnly = 0
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 4 }), caller, (specs, callerHeaders) => {
        const claims = Object.fromEntries(specs.map((s, i) => [`v${i}`, s.value]))
        const field = (s: (typeof specs)[number], i: number, literal: boolean): CompiledField => ({ type: 'header', key: s.key, template: parseTemplate(literal ? s.value : `{{claims.v${i}}}`) })
        const given = specs.map((s, i) => field(s, i, s.literal))
        const rendered = specs.map((s, i) => field(s, i, false))
        if (specs.every((s) => s.literal)) literalOnly++
        const ours = outcome(given, claims, callerHeaders)
        expect(ours).toEqual(outcome(rendered, claims, callerHeaders))
        // Judged once per list: the second request on it is answered the same.
        expect(outcome(given, claims, callerHeaders)).toEqual(ours)
      }),
      { seed: 4917, numRuns: 3_000 },
    )
    expect(literalOnly).toBeGreaterThan(500)
  })

  it('send the new value after a reload changes it', async () => {
    const pki = await createTestPki()
    const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    cleanup.push(() => pki.cleanup(), () => upstream.close())
    const yaml = (org: string): string => `endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), `    fields: [{ type: header, key: X-Org, value: "${org}" }]\n`)}`
    const g = await startOpsGateway(pki.dir, yaml('acme'))
    cleanup.push(() => g.gw.close())
    const org = async (): Promise<unknown> => (await send(g.gw.url, '/proxy/partner/x')).json<EchoReply>().headers['x-org']
    expect(await org()).toBe('acme')
    expect(await org()).toBe('acme')
    replaceFile(`${pki.dir}/gateway.yaml`, yaml('acme-2'))
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 20_000, 'the reload')
    expect(await org()).toBe('acme-2')
  })
})
