/**
 * `{{fields.NAME}}` and `{{claims.NAME}}` named like Object.prototype members. A user field
 * `toString` the stored token lacked rendered as `function toString() { [native code] }`, and a
 * field or claim `__proto__` that was provided was lost by the copy that merged it (`Object.assign`
 * sets the prototype instead), so `{{fields.__proto__}}` went out as `[object Object]`. A value is
 * what the request provides as its own, or the template is refused (400) as missing. Seeded
 * property over such names, split between the profile's additionalFields and the user's fields.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { toCaller } from '../../src/callers/caller.js'
import { resolveClaimAliases } from '../../src/callers/claim-aliases.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, fillProfileUrl, type CompiledField, type Endpoint, type Profile } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'

const URL_TEMPLATE = 'https://api.partner.test/d'
const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__proto__', '__defineGetter__', 'toLocaleString']

/** JSON text of an object whose own keys are `entries` (JSON.parse keeps `__proto__` as an own key, as stores read it back). */
const jsonObject = (entries: [string, string][]): Record<string, string> | undefined =>
  entries.length === 0 ? undefined : (JSON.parse(JSON.stringify(Object.fromEntries(entries))) as Record<string, string>)

function admitted(template: string, profileFields: [string, string][], userFields: [string, string][], claims: Record<string, unknown> = {}): Admitted {
  const fields: CompiledField[] = [{ type: 'query', key: 'v', template: parseTemplate(template) }, { type: 'header', key: 'x-v', template: parseTemplate(template) }]
  const additionalFields = jsonObject(profileFields)
  const endpoint = { name: 'ep', url: URL_TEMPLATE, config: {}, fields, destination: compileDestination(URL_TEMPLATE, undefined), profile: { name: 'p', config: additionalFields ? { additionalFields } : {} } } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/x', '', 'append')
  const body = { present: false, get buffered() { return Buffer.alloc(0) }, stream: undefined, bytes: async () => Buffer.alloc(0), replace: () => undefined, sent: () => Buffer.alloc(0) }
  const token = jsonObject(userFields)
  const auth = { token: { token: 't', tokenSecret: 's', ...(token ? { fields: token } : {}) } }
  return { endpoint, target, tenant: undefined, caller: { appId: 'bot', claims }, auth, outbound: { method: 'GET', url: toOutboundUrl(target), headers: {}, body } } as unknown as Admitted
}

/** The values sent (query, header), or the refusal. */
async function render(ctx: Admitted): Promise<string[] | GatewayError> {
  try {
    await applyAuthorization.run(ctx)
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
  return [ctx.outbound.url.searchParams.get('v') as string, String(ctx.outbound.headers['x-v'])]
}

function expectMissing(out: string[] | GatewayError, what: string): void {
  expect(out, what).toBeInstanceOf(GatewayError)
  expect(STATUS[(out as GatewayError).reason]).toBe(400)
  expect((out as GatewayError).message).toContain(`needs ${what}, which this request does not provide`)
}

describe('field names like Object.prototype members', () => {
  it('render the value the request provides as its own, or are missing (seeded)', async () => {
    const name = fc.constantFrom(...PROTOTYPE_NAMES, 'pin', 'acct')
    const value = fc.stringMatching(/^[a-z0-9]{1,8}$/)
    const source = fc.constantFrom('profile', 'user', 'both', 'none')
    await fc.assert(
      fc.asyncProperty(name, value, source, fc.boolean(), async (n, v, from, otherFields) => {
        const other: [string, string][] = otherFields ? [['other', 'o']] : []
        const profile: [string, string][] = from === 'profile' || from === 'both' ? [[n, `p${v}`], ...other] : other
        const user: [string, string][] = from === 'user' || from === 'both' ? [[n, v], ...other] : other
        const out = await render(admitted(`{{fields.${n}}}`, profile, user))
        // The user's fields win over additionalFields.
        if (from === 'none') expectMissing(out, `fields.${n}`)
        else expect(out, `${n} from ${from}`).toEqual(from === 'profile' ? [`p${v}`, `p${v}`] : [v, v])
      }),
      { seed: 20261205, numRuns: 400 },
    )
  })

  it('a user field toString the stored token lacks is missing, not Object\'s function as text', async () => {
    expectMissing(await render(admitted('{{fields.toString}}', [], [])), 'fields.toString')
    expectMissing(await render(admitted('{{fields.constructor}}', [['pin', '1']], [['acct', '2']])), 'fields.constructor')
  })
})

describe('a claim named __proto__', () => {
  it('that the JWT holds is sent, as a claim of any other name', async () => {
    const payload = JSON.parse('{"sub":"u1","exp":2000000000,"__proto__":"c-1","constructor":"c-2"}') as Record<string, unknown>
    const caller = toCaller('bot', payload, false)
    expect(await render(admitted('{{claims.__proto__}}', [], [], caller.claims))).toEqual(['c-1', 'c-1'])
    expect(await render(admitted('{{claims.constructor}}', [], [], caller.claims))).toEqual(['c-2', 'c-2'])
  })

  it('that is an object does not become the claims\' prototype', () => {
    const payload = JSON.parse('{"sub":"u1","exp":2000000000,"__proto__":{"acct":"victim"}}') as Record<string, unknown>
    const claims = toCaller('bot', payload, false).claims
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype)
    expect((claims as Record<string, unknown>)['acct']).toBeUndefined()
  })
})

describe('profile URLs', () => {
  it('fill {{fields.__proto__}} from the user\'s fields beside additionalFields', () => {
    const profile = { name: 'p', config: { additionalFields: { pin: '1' }, requestTokenUrl: 'https://idp.test/rt/{{fields.__proto__}}' } } as unknown as Profile
    const fields = jsonObject([['__proto__', 'u-42']])
    expect(fillProfileUrl(profile, 'requestTokenUrl', fields ? { fields } : {})?.url).toBe('https://idp.test/rt/u-42')
  })
})

describe('claim aliases', () => {
  it('keep a __proto__ claim a claim when they copy the claims', () => {
    const payload = JSON.parse('{"sub":"u1","kore_sub":"u2","exp":2000000000,"__proto__":{"acct":"victim"}}') as Record<string, unknown>
    const resolved = resolveClaimAliases(payload, 'kore_')
    expect(resolved.sub).toBe('u2')
    expect(Object.getPrototypeOf(resolved)).toBe(Object.prototype)
    expect(Object.hasOwn(resolved, '__proto__')).toBe(true)
  })
})
