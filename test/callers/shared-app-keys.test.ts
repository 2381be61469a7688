/**
 * The key is what tells apps apart: an assertion's `iss` picks the app, and only that app's key
 * verifies it. Two apps configured with one key (the same secret, or one RSA key written as SPKI,
 * PKCS#1 or JWK) could each sign as the other, taking its endpoints, tenants and users' tokens.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { compileCallerApps, verifyCallerAssertion, type CallerAppConfig } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { parseConfig } from '../../src/config/index.js'
import { checkConfig } from '../../src/gateway/compile.js'
import { configProblems } from '../support/config-problems.js'
import { AUDIENCE, claims, HS_SECRET, nowMs, rsaPair, signHs, signRs, type RsaPair } from '../support/callers-fixtures.js'

const SECRETS = [HS_SECRET, `${HS_SECRET}-second`]
const PAIRS = [rsaPair(), rsaPair()]
type KeyChoice = { kind: 'hs'; n: number } | { kind: 'rs'; n: number; form: 'spki' | 'pkcs1' | 'jwk' }

function keyConfig(k: KeyChoice): Pick<CallerAppConfig, 'hs256Secret' | 'rs256PublicKey'> {
  if (k.kind === 'hs') return { hs256Secret: SECRETS[k.n] as string }
  const { publicKey } = PAIRS[k.n] as RsaPair
  if (k.form === 'jwk') return { rs256PublicKey: publicKey.export({ format: 'jwk' }) }
  return { rs256PublicKey: publicKey.export({ type: k.form, format: 'pem' }).toString() }
}
const sameKey = (a: KeyChoice, b: KeyChoice): boolean => a.kind === b.kind && a.n === b.n
const keyArb: fc.Arbitrary<KeyChoice> = fc.oneof(
  fc.record({ kind: fc.constant('hs' as const), n: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('rs' as const), n: fc.integer({ min: 0, max: 1 }), form: fc.constantFrom('spki' as const, 'pkcs1' as const, 'jwk' as const) }),
)
const appConfig = (clientId: string, k: KeyChoice): CallerAppConfig => ({ clientId, ...keyConfig(k), endpoints: [clientId], audience: AUDIENCE })

/** An assertion for `iss` signed with key `k` (jose: an independent signer from the verifier's config). */
function signWith(k: KeyChoice, iss: string): Promise<string> {
  const c = claims(iss)
  return k.kind === 'hs' ? signHs(c, SECRETS[k.n]) : signRs(c, (PAIRS[k.n] as RsaPair).privateKey)
}

describe('caller apps never share a key', () => {
  it('two apps with one HS256 secret, or one RSA key in two forms, are a config error naming both apps and no secret', () => {
    const shared = configProblems(() =>
      compileCallerApps([appConfig('shop', { kind: 'hs', n: 0 }), appConfig('partner', { kind: 'hs', n: 0 }), appConfig('rs-a', { kind: 'rs', n: 0, form: 'spki' }), appConfig('rs-b', { kind: 'rs', n: 0, form: 'jwk' })]),
    )
    expect(shared).toEqual([
        'callers[1].hs256Secret: app "partner" has the same key as app "shop": either could sign assertions as the other (its endpoints, tenants and users); give each app its own',
        'callers[3].rs256PublicKey: app "rs-b" has the same key as app "rs-a": either could sign assertions as the other (its endpoints, tenants and users); give each app its own',
    ])
    expect(shared.join('\n')).not.toContain(HS_SECRET)
  })

  it('property: either the config is refused because two apps share a key, or no app\'s key signs for another app\'s iss (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(keyArb, { minLength: 2, maxLength: 4 }), async (keys) => {
        const ids = keys.map((_, i) => `app-${i}`)
        const anyShared = keys.some((a, i) => keys.some((b, j) => j < i && sameKey(a, b)))
        let apps: ReturnType<typeof compileCallerApps>
        try {
          apps = compileCallerApps(keys.map((k, i) => appConfig(ids[i] as string, k)))
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError)
          expect(String((e as Error).message)).toMatch(/has the same key as app/)
          expect(anyShared).toBe(true)
          return
        }
        expect(anyShared).toBe(false)
        const opts = { apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs }
        for (const [i, k] of keys.entries()) {
          for (const iss of ids) {
            const got = await verifyCallerAssertion(await signWith(k, iss), opts).then((c) => c.appId, () => 'refused')
            expect(got).toBe(iss === ids[i] ? iss : 'refused')
          }
        }
      }),
      { seed: 0x5ba4ed, numRuns: 60 },
    )
  })
})

describe('a config file whose apps share a key', () => {
  it('is refused by the check a load or reload runs, naming the app and the key field (one secret given twice through ${env:…})', () => {
    const yaml = `callers:
  apps:
    - { clientId: shop, hs256Secret: "\${env:SHARED}", audience: aud, endpoints: [partner] }
    - { clientId: partner-app, hs256Secret: "\${env:SHARED}", audience: aud, endpoints: [partner] }
endpoints:
  - { name: partner, url: "https://partner.test", tls: { cert: c.crt, key: c.key, roots: r.crt } }
`
    const problemsOf = (text: string): string[] => checkConfig(parseConfig('/tmp/gateway.yaml', text, { env: { SHARED: HS_SECRET } })).problems.map((p) => `${p.key}: ${p.msg}`)
    const lines = problemsOf(yaml)
    expect(lines.join('\n')).toMatch(/callers\.apps\[1\]\.hs256Secret: app "partner-app" has the same key as app "shop": either could sign assertions as the other/)
    expect(lines.join('\n')).not.toContain(HS_SECRET)
    const distinct = yaml.replace('"${env:SHARED}", audience: aud, endpoints: [partner] }\nendpoints', '"${env:SHARED}-2", audience: aud, endpoints: [partner] }\nendpoints')
    expect(problemsOf(distinct).filter((l) => l.startsWith('callers'))).toEqual([])
    // A certificate-only app before them counts in the index the problem names (it named callers.apps[1] for the third entry).
    const withCertApp = yaml.replace('  apps:\n', '  apps:\n    - { clientId: certy, audience: aud, endpoints: [partner], clientCertificate: { subject: cn } }\n')
    expect(problemsOf(withCertApp).filter((l) => l.startsWith('callers'))).toEqual([
      'callers.apps[2].hs256Secret: app "partner-app" has the same key as app "shop": either could sign assertions as the other (its endpoints, tenants and users); give each app its own',
    ])
  })
})

describe('an hs256Secret that is a public key', () => {
  it('is refused in every form a public key is pasted (SPKI, PKCS#1, certificate PEM, JWK text): whoever has the public key could sign HS256 as the app', () => {
    const { publicKey } = PAIRS[0] as RsaPair
    const forms = [
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      publicKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim(),
      JSON.stringify(publicKey.export({ format: 'jwk' })),
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----\n`,
    ]
    const got = configProblems(() => compileCallerApps(forms.map((hs256Secret, i) => ({ clientId: `app-${i}`, hs256Secret, endpoints: [], audience: AUDIENCE }))))
    expect(got).toEqual(forms.map((_, i) => `callers[${i}].hs256Secret: hs256Secret holds a public key or certificate, which is no secret (whoever has it could sign as this app): give a random secret, or the key as rs256PublicKey`))
    // A secret that merely mentions braces or dashes stays a secret.
    expect(compileCallerApps([{ clientId: 'ok', hs256Secret: '{not json, but 32 bytes or more}-----', endpoints: [], audience: AUDIENCE }]).size).toBe(1)
  })
})
