/**
 * apply_authorization alone, over generated claim values (all of Unicode, lone surrogates,
 * controls, every encoding of a separator or dot-segment): a value is refused with a 400 naming
 * its field and never quoting it, or it goes out exactly — a header as visible ASCII with SP/HTAB
 * only inside (what every reader reads the same), a path value as exactly one segment at every decoding depth, inside the base path
 * and tenant segment. Never a 5xx. destination-integrity.test.ts sends the same values on the wire.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { assertDestination, buildUpstreamTarget, checkRequestPathFully, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { backendReadings, HEADER_VALUE_AS_IS, fieldValueArb, isWellFormed, ORDINARY_VALUE, segmentTexts } from './destination-cases.js'

type FieldType = CompiledField['type']
const field = (type: FieldType, key: string): CompiledField => ({ type, key, template: parseTemplate('{{claims.v}}') })

function endpointWith(url: string, fields: CompiledField[]): Endpoint {
  return { name: 'ep', url, config: {}, fields, destination: compileDestination(url, undefined) } as unknown as Endpoint
}

/** A routed, admitted request as the pipeline hands it to the step; `body` only for payload fields. */
function admitted(endpoint: Endpoint, tenant: string | undefined, requestPath: string, v: string, body?: { type: string; text: string }): Admitted {
  const target = buildUpstreamTarget(endpoint, tenant, requestPath, '?z=1', 'append')
  let bytes: Buffer = Buffer.from(body?.text ?? '')
  const outbound = {
    method: 'POST',
    url: toOutboundUrl(target),
    headers: body ? { 'content-type': body.type } : {},
    body: { present: body !== undefined, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes, replace: (b: Buffer) => { bytes = b }, sent: () => bytes },
  }
  return { endpoint, target, tenant, caller: { appId: 'bot', claims: { v } }, auth: {}, outbound } as unknown as Admitted
}

async function outcome(ctx: Admitted): Promise<GatewayError | undefined> {
  try {
    await applyAuthorization.run(ctx)
    assertDestination(ctx.target, ctx.outbound.url) // what forward asserts right before the dial
    return undefined
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err // a TypeError, URIError…: the listener would answer 500
  }
}

function expectRefusal(err: GatewayError, name: RegExp, value: string): void {
  expect(STATUS[err.reason]).toBe(400)
  expect(err.message).toMatch(name)
  if (value.length >= 6) expect(err.message).not.toContain(value)
}

const PATHS = [
  { url: 'https://api.partner.test/d/{{acct}}/x', tenant: undefined, under: /^\/d\/([^/]+)\/x(?:\/|$)/ },
  { url: 'https://api.partner.test/t/{tenant}/acct/{{acct}}', tenant: 'acme', under: /^\/t\/acme\/acct\/([^/]+)(?:\/|$)/ },
] as const

describe('path fields', () => {
  it('refuse the edge review\'s escapes and "." / ".." with a 400 naming the field', async () => {
    for (const { url, tenant } of PATHS) {
      for (const value of ['../../../admin', '..\\..\\..\\admin', '%2e%2e', '../../victim-tenant/acct/42', '.', '..', '．．', '%EF%BC%8E%EF%BC%8E', 'a%2Fb', '..%2F..', '%c0%ae%c0%ae', '', '  ', 'a\u0000b']) {
        const err = await outcome(admitted(endpointWith(url, [field('path', 'acct')]), tenant, '/statement', value))
        expect(err, JSON.stringify(value)).toBeInstanceOf(GatewayError)
        expectRefusal(err as GatewayError, /path field "acct"/, value)
        if (/\.|\/|\\|%2/.test(value) && value !== 'a%2Fb') expect((err as GatewayError).reason, JSON.stringify(value)).toBe('path_escapes_base')
      }
    }
  })

  // The second review: backends trim segments, so " 42" could be read as the account "42".
  it('refuse a value with whitespace at either end, in any encoding, with a 400 naming the field', async () => {
    for (const { url, tenant } of PATHS) {
      for (const value of [' 42', '42 ', '42\t', '\u00a042', '42\u3000', '%2042', '42%20', '%252042', '42%0a', '\u200a42']) {
        const err = await outcome(admitted(endpointWith(url, [field('path', 'acct')]), tenant, '/statement', value))
        expect(err, JSON.stringify(value)).toBeInstanceOf(GatewayError)
        expectRefusal(err as GatewayError, /path field "acct": its value (starts or ends with whitespace|contains a control character)/, value)
      }
      const inside = admitted(endpointWith(url, [field('path', 'acct')]), tenant, '/statement', 'ACC 42')
      expect(await outcome(inside)).toBeUndefined()
      expect(inside.outbound.url.pathname).toContain('/ACC%2042')
    }
  })

  // "Empty" was String.trim()'s verdict, which also strips U+2028, a tab, a no-break space: say what the value is.
  it('say a whitespace-only value is only whitespace, a control character a control character, and only "" is empty', async () => {
    const cases: [string, RegExp][] = [
      ['\u2028', /its value is only whitespace/], ['\u2029\u2029', /its value is only whitespace/], ['\u00a0', /its value is only whitespace/],
      ['\u3000', /its value is only whitespace/], ['\ufeff', /its value is only whitespace/], ['  ', /its value is only whitespace/],
      ['%E2%80%A8', /its value is only whitespace/], ['%20', /its value is only whitespace/], ['\t', /its value contains a control character/],
      ['', /its value is empty/],
    ]
    for (const { url, tenant } of PATHS) {
      for (const [value, why] of cases) {
        const err = await outcome(admitted(endpointWith(url, [field('path', 'acct')]), tenant, '/statement', value))
        expect(err, JSON.stringify(value)).toBeInstanceOf(GatewayError)
        expect((err as GatewayError).message, JSON.stringify(value)).toMatch(why)
        expect((err as GatewayError).reason).toBe('bad_request')
      }
    }
  })

  it('for any claim value: a 400 naming the field, or exactly one segment under the base path and tenant at every decoding depth (5,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fieldValueArb, fc.constantFrom(...PATHS), fc.constantFrom('/', '/y', '/statement'), async (value, p, tail) => {
        const ctx = admitted(endpointWith(p.url, [field('path', 'acct')]), p.tenant, tail, value)
        const err = await outcome(ctx)
        if (ORDINARY_VALUE.test(value)) expect(err).toBeUndefined()
        if (err !== undefined) return expectRefusal(err, /(path field|authorization field path) "acct"/, value)
        const pathname = ctx.outbound.url.pathname
        checkRequestPathFully(pathname) // the very rule a request path obeys
        for (const form of backendReadings(pathname)) expect(form, `${JSON.stringify(value)} → ${pathname}`).toMatch(p.under)
        // A backend that trims the segment reads the same value.
        for (const text of segmentTexts(p.under.exec(pathname)?.[1] ?? '')) expect(text.trim(), `${JSON.stringify(value)} → ${pathname}`).toBe(text)
        expect(decodeURIComponent(p.under.exec(pathname)?.[1] ?? '')).toBe(value)
      }),
      { seed: 20261203, numRuns: 5000 },
    )
  })
})

describe('values that cannot go on the wire', () => {
  it('are a 400 naming the field, never an upstream failure or an internal error', async () => {
    const cases: [FieldType, string][] = [['header', '1\r\nX-Injected: yes'], ['header', '\u010d\u010a'], ['header', 'a\u0000b'], ['header', 'caf€'], ['header', 'josé'], ['header', 'josÃ©'], ['header', '\u0080'], ['header', ' 42'], ['header', '42\t'], ['header', '  42\t'], ['header', ' '], ['query', '\ud800'], ['payload', '\udfff'], ['path', '\ud800']]
    for (const [type, value] of cases) {
      const err = await outcome(admitted(endpointWith('https://api.partner.test/d/{{acct}}', [field(type, type === 'header' ? 'X-Acct' : 'acct')]), undefined, '/', value, { type: 'application/x-www-form-urlencoded', text: 'a=1' }))
      expect(err, `${type} ${JSON.stringify(value)}`).toBeInstanceOf(GatewayError)
      expectRefusal(err as GatewayError, new RegExp(`authorization field ${type} "(x-acct|acct)"`, 'i'), value)
    }
  })

  it('for any claim value in every placement: a 400, or the value exactly as the placement carries it (5,000 cases)', async () => {
    const bodies = [{ type: 'application/json', text: '{"a":1}' }, { type: 'application/x-www-form-urlencoded', text: 'a=1' }]
    await fc.assert(
      fc.asyncProperty(fieldValueArb, fc.constantFrom<FieldType>('header', 'query', 'payload'), fc.constantFrom(...bodies), async (value, type, body) => {
        const ctx = admitted(endpointWith('https://api.partner.test/b', [field(type, type === 'header' ? 'X-Acct' : 'acct')]), undefined, '/y', value, body)
        const err = await outcome(ctx)
        const sendable = type === 'header' ? HEADER_VALUE_AS_IS.test(value) : isWellFormed(value)
        expect(err === undefined, `${type} ${JSON.stringify(value)}: ${err?.message ?? 'sent'}`).toBe(sendable)
        if (err !== undefined) return expectRefusal(err, new RegExp(`authorization field ${type} "(x-acct|acct)"`, 'i'), value)
        if (type === 'header') expect(ctx.outbound.headers['X-Acct'] ?? ctx.outbound.headers['x-acct']).toBe(value)
        if (type === 'query') expect(ctx.outbound.url.searchParams.getAll('acct')).toEqual([value])
        if (type === 'payload') {
          const sent = (await ctx.outbound.body.bytes()).toString('utf8')
          expect(body.type === 'application/json' ? (JSON.parse(sent) as { acct: string }).acct : new URLSearchParams(sent).get('acct')).toBe(value)
        }
      }),
      { seed: 20261204, numRuns: 5000 },
    )
  })
})
