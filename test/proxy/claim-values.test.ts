/**
 * `{{claims.NAME}}` over what a caller's JWT really holds. Claims are JSON: jose parses them with
 * JSON.parse, so a number claim is a double. A 64-bit account id written as a JSON number
 * (`"acct": 12345678901234567891`) is 12345678901234567000 once parsed, which is another account:
 * such a value must be refused (400 naming the field), never sent rounded. A claim the JWT does
 * not hold is missing even when its name is an Object.prototype member (`constructor`).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'

const URL_TEMPLATE = 'https://api.partner.test/d/{{acct}}'

function endpointWith(fields: CompiledField[]): Endpoint {
  return { name: 'ep', url: URL_TEMPLATE, config: {}, fields, destination: compileDestination(URL_TEMPLATE, undefined) } as unknown as Endpoint
}

/** A request whose caller JWT payload is `payloadJson`, parsed as jose parses it. */
function admitted(endpoint: Endpoint, payloadJson: string): Admitted {
  const target = buildUpstreamTarget(endpoint, undefined, '/x', '', 'append')
  const body = { present: false, get buffered() { return Buffer.alloc(0) }, stream: undefined, bytes: async () => Buffer.alloc(0), replace: () => undefined, sent: () => Buffer.alloc(0) }
  const outbound = { method: 'GET', url: toOutboundUrl(target), headers: {}, body }
  return { endpoint, target, tenant: undefined, caller: { appId: 'bot', claims: JSON.parse(payloadJson) as Record<string, unknown> }, auth: {}, outbound } as unknown as Admitted
}

const fieldsOf = (template: string): CompiledField[] => [
  { type: 'query', key: 'acct', template: parseTemplate(template) },
  { type: 'header', key: 'x-acct', template: parseTemplate(template) },
  { type: 'path', key: 'acct', template: parseTemplate(template) },
]

/** The values sent (query, header, path), or the refusal. */
async function send(template: string, payloadJson: string): Promise<string[] | GatewayError> {
  const ctx = admitted(endpointWith(fieldsOf(template)), payloadJson)
  try {
    await applyAuthorization.run(ctx)
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
  const url = ctx.outbound.url
  return [url.searchParams.get('acct') as string, String(ctx.outbound.headers['x-acct']), decodeURIComponent(url.pathname.split('/')[2] as string)]
}

function expectRefused(out: string[] | GatewayError, written: string): void {
  expect(out, written).toBeInstanceOf(GatewayError)
  const err = out as GatewayError
  expect(STATUS[err.reason]).toBe(400)
  expect(err.message).toMatch(/authorization field (query|header|path) "(acct|x-acct)"/)
  expect(err.message).toMatch(/claims\.acct/)
  if (written.length >= 6) expect(err.message).not.toContain(written)
}

describe('number claims', () => {
  it('go out exactly as written, or are refused with a 400 naming the field, never rounded (seeded)', async () => {
    const integerText = fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n) => n.toString())
    await fc.assert(
      fc.asyncProperty(integerText, async (written) => {
        const out = await send('{{claims.acct}}', `{"acct":${written}}`)
        if (out instanceof GatewayError) {
          expectRefused(out, written)
          // Only a number a double cannot hold exactly is refused.
          expect(Number.isSafeInteger(Number(written)) && written !== '-0').toBe(false)
        } else expect(out).toEqual([written, written, written])
      }),
      { seed: 20261205, numRuns: 2000 },
    )
  })

  it('refuse the 64-bit ids and forms a double rewrites', async () => {
    for (const written of ['12345678901234567891', '9007199254740993', '-9007199254740993', '1e21', '1E400', '-0', '123456789012345678901234567890']) {
      for (const template of ['{{claims.acct}}', 'acct-{{claims.acct}}']) expectRefused(await send(template, `{"acct":${written}}`), written)
    }
  })

  it('keep numbers a double holds exactly: safe integers and plain decimals', async () => {
    for (const [written, sent] of [['9007199254740991', '9007199254740991'], ['-42', '-42'], ['0', '0'], ['12.5', '12.5'], ['0.1', '0.1']]) {
      expect(await send('{{claims.acct}}', `{"acct":${written}}`)).toEqual([sent, sent, sent])
    }
  })
})

describe('claim names', () => {
  it('an Object.prototype member the JWT does not hold is missing, not a function rendered as text', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__', '__defineGetter__']) {
      const out = await send(`{{claims.${name}}}`, '{"sub":"u"}')
      expect(out, name).toBeInstanceOf(GatewayError)
      expect((out as GatewayError).message).toContain(`needs claims.${name}, which this request does not provide`)
    }
  })

  it('a claim the JWT holds as an array, an object or null is named with the type found, never its value, not "not provided"', async () => {
    for (const [written, found] of [['["acct-secret-1","acct-secret-2"]', 'an array'], ['{"n":"acct-secret-1"}', 'an object'], ['null', 'null']] as const) {
      for (const template of ['{{claims.acct}}', 'acct-{{claims.acct}}']) {
        const out = await send(template, `{"acct":${written}}`)
        expect(out, written).toBeInstanceOf(GatewayError)
        const err = out as GatewayError
        expect(STATUS[err.reason]).toBe(400)
        expect(err.message).toMatch(new RegExp(`^authorization field (query|header|path) "(acct|x-acct)" needs claims\\.acct, which the caller's JWT holds as ${found}: `))
        expect(err.message).not.toContain('does not provide')
        expect(err.message).not.toContain('acct-secret')
      }
    }
  })

  it('a claim of such a name that the JWT does hold is sent', async () => {
    expect(await send('{{claims.constructor}}', '{"constructor":"c-1"}')).toEqual(['c-1', 'c-1', 'c-1'])
  })
})
