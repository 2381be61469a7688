/**
 * In the chart (production) a secret is never written inline: every config key whose value is
 * itself a secret must hold a `${env:…}` or `${file:…}` reference, or values.schema.json refuses
 * the values (a literal would be rendered into the ConfigMap and kept in the release history).
 * A profile's additionalFields (a PIN, an account number) are such keys: rendered, no values the
 * schema accepts put a literal of theirs into a ConfigMap.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, valuesFile, type Renderer } from './chart.js'

const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
const base = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>
const endpoint = (over: Record<string, unknown> = {}, tls: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'partner', url: 'https://api.partner.example', tls: { secretName: 'partner-tls', ...tls }, ...over })

/** Values that put `v` at one secret-valued key. */
const PLACES: Readonly<Record<string, (v: string) => Record<string, unknown>>> = {
  consumerSecret: (v) => ({ config: { profiles: [{ name: 'p', consumerKey: 'ck', consumerSecret: v }] } }),
  privateKeyPassphrase: (v) => ({ config: { profiles: [{ name: 'p', consumerKey: 'ck', signatureMethod: 'RSA-SHA1', privateKey: '/k.pem', privateKeyPassphrase: v }] } }),
  staticToken: (v) => ({ config: { profiles: [{ name: 'p', consumerKey: 'ck', consumerSecret: '${env:CS}', token: { mode: 'static', token: v, tokenSecret: '${env:TS}' } }] } }),
  additionalField: (v) => ({ config: { profiles: [{ name: 'p', consumerKey: 'ck', consumerSecret: '${env:CS}', additionalFields: { pin: v } }] } }),
  staticTokenSecret: (v) => ({ config: { profiles: [{ name: 'p', consumerKey: 'ck', consumerSecret: '${env:CS}', token: { mode: 'static', token: '${env:T}', tokenSecret: v } }] } }),
  hs256Secret: (v) => ({ config: { callers: { apps: [{ clientId: 'bot', audience: 'gw', hs256Secret: v }] } } }),
  adminToken: (v) => ({ config: { callers: { adminToken: v } } }),
  gatewayKey: (v) => ({ config: { callers: { gatewayKeys: [{ kid: 'k1', privateKey: v }] } } }),
  gatewayKeyPassphrase: (v) => ({ config: { callers: { gatewayKeys: [{ kid: 'k1', privateKey: '${file:/k.pem}', passphrase: v }] } } }),
  caKeyPassphrase: (v) => ({ config: { interception: { caKeyPassphrase: v } } }),
  otlpHeader: (v) => ({ config: { tracing: { enabled: true, otlp: { endpoint: 'https://otel:4318/v1/traces', headers: { 'x-api-key': v } } } } }),
  listenKeyPassphrase: (v) => ({ config: { listen: { tls: { cert: '/c.crt', key: '/c.key', keyPassphrase: v } } } }),
  endpointKeyPassphrase: (v) => ({ endpoints: [endpoint({}, { keyPassphrase: v })] }),
  endpointPkcs12Passphrase: (v) => ({ endpoints: [endpoint({}, { pkcs12Passphrase: v })] }),
  connectorPassword: (v) => ({ endpoints: [endpoint({ via: { url: 'http://connector:3128', username: 'gw', password: v } })] }),
  tenantKeyPassphrase: (v) => ({ endpoints: [endpoint({ url: 'https://{tenant}.partner.example', tenants: { acme: { tls: { cert: '/a.crt', key: '/a.key', roots: '/r.crt', keyPassphrase: v } } } })] }),
}

/** Helm's merge of a values file over values.yaml: maps merge key by key, anything else replaces. */
function merged(over: Record<string, unknown>, under: Record<string, unknown> = base): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under }
  for (const [k, v] of Object.entries(over)) {
    const u = under[k]
    const isMap = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x)
    out[k] = isMap(v) && isMap(u) ? merged(v, u) : v
  }
  return out
}

const valid = (values: Record<string, unknown>): boolean => validate({ ...base, endpoints: [endpoint()], ...values })

describe('the chart refuses secrets written inline', () => {
  it('accepts each secret-valued key as a reference, and refuses it as a literal', () => {
    for (const [name, place] of Object.entries(PLACES)) {
      for (const ref of ['${env:GATEWAY_SECRET}', '${file:/etc/mtls-gateway/secrets/x}']) expect(valid(place(ref)), `${name} ${ref}: ${JSON.stringify(validate.errors)}`).toBe(true)
      // An auth scheme before the reference: an OTLP header's value only.
      expect(valid(place('Bearer ${env:OTLP_TOKEN}')), name).toBe(name === 'otlpHeader')
      expect(valid(place('correct-horse-battery-staple-0123456789')), `${name} accepted a literal`).toBe(false)
    }
  })

  it('refuses any literal at any secret-valued key (2,000 runs)', () => {
    const literal = fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !/\$\{(env|file):[^}]+\}/.test(s))
    fc.assert(
      fc.property(literal, fc.constantFrom(...Object.keys(PLACES)), (v, name) => {
        expect(valid((PLACES[name] as (x: string) => Record<string, unknown>)(v)), `${name}: ${JSON.stringify(v)}`).toBe(false)
      }),
      { seed: 0x11e5, numRuns: 2_000 },
    )
  })

  it('refuses a literal written beside a reference (review rev-i: `secret${file:/dev/null}` resolves to the literal)', () => {
    const ref = fc.constantFrom('${env:GATEWAY_SECRET}', '${file:/dev/null}')
    const literal = fc.stringMatching(/^[A-Za-z0-9+/=_-]{8,40}$/)
    fc.assert(
      fc.property(literal, ref, fc.constantFrom('before', 'after', 'spaced'), fc.constantFrom(...Object.keys(PLACES)), (lit, r, where, name) => {
        const v = where === 'before' ? `${lit}${r}` : where === 'after' ? `${r}${lit}` : `${lit} ${r}`
        if (name === 'otlpHeader' && where === 'spaced' && /^(Bearer|Basic|Token|ApiKey)$/.test(lit)) return
        expect(valid((PLACES[name] as (x: string) => Record<string, unknown>)(v)), `${name}: ${JSON.stringify(v)}`).toBe(false)
      }),
      { seed: 0x11e6, numRuns: 1_000 },
    )
  })

  it('the chart\'s own example values use references only', () => {
    const dir = join(CHART, '..', 'tests')
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml') && n !== 'yamllint.yaml')) {
      const values = parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>
      expect(validate(merged(values)), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
  })
})

describe('a profile\'s additionalFields in the rendered release', () => {
  let r: Renderer
  let n = 0
  beforeAll(() => {
    r = buildRenderer()
  }, 5 * 60_000)
  afterAll(() => r?.cleanup())

  // Literals long and marked enough that no other text of the release holds one by chance.
  const literal = fc.stringMatching(/^[A-Za-z0-9]{6,20}$/).map((s) => `lit-${s}`)
  const reference = fc.constantFrom('${env:PARTNER_PIN}', '${file:/etc/mtls-gateway/secrets/pin}', '${env:A}${file:/b}')
  const fields = fc.dictionary(fc.constantFrom('pin', 'account', 'realm', 'branch'), fc.oneof(literal, reference), { minKeys: 1, maxKeys: 3 })

  it('never carries a literal into a ConfigMap: values holding one are refused by values.schema.json, references render as written (seeded, 40 releases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fields, { minLength: 1, maxLength: 2 }), async (perProfile) => {
        const profiles = perProfile.map((additionalFields, i) => ({ name: `p${i}`, consumerKey: 'ck', consumerSecret: '${env:CS}', additionalFields }))
        const file = join(r.dir, `additional-fields-${++n}.yaml`)
        writeFileSync(file, stringify({ config: { profiles } }))
        const literals = perProfile.flatMap((f) => Object.values(f)).filter((v) => v.startsWith('lit-'))
        // Helm validates the merged values against values.schema.json before it renders anything.
        const accepted = validate(await r.values([valuesFile('minimal'), file]))
        if (accepted) {
          const rendered = await r.render([valuesFile('minimal'), file])
          for (const cm of rendered.all('ConfigMap')) for (const text of Object.values(cm.data ?? {})) for (const lit of literals) expect(String(text), `ConfigMap ${cm.metadata.name}`).not.toContain(lit)
          expect(rendered.gatewayConfig().profiles.map((p: { additionalFields: unknown }) => p.additionalFields)).toEqual(perProfile)
        }
        expect(accepted, JSON.stringify(validate.errors)).toBe(literals.length === 0)
      }),
      { seed: 0xadd1, numRuns: 40 },
    )
  }, 120_000)
})
