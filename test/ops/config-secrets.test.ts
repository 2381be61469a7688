/**
 * configSecretValues(): every secret a config may hold inline is registered for redaction by
 * value (logs, the console), not only those from `${env:}`/`${file:}`. The schema scan makes a
 * new secret-looking key fail here until it is covered: the review found Redis, Sentinel,
 * connector and OTLP credentials written inline and never registered.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/index.js'
import { configSecretValues } from '../../src/ops/index.js'

/** Each secret-bearing key of the schema, with the value this test writes there. */
const COVERED: Record<string, string> = {
  '.listen.tls.keyPassphrase': 'listen-passphrase-0001',
  '.admin.tls.keyPassphrase': 'admin-passphrase-0002',
  '.admin.token': 'admin-console-token-0003',
  '.endpoints[].tls.keyPassphrase': 'endpoint-passphrase-0004',
  '.endpoints[].tls.pkcs12Passphrase': 'endpoint-p12-pass-0005',
  '.endpoints[].via.password': 'connector-password-0006',
  '.endpoints[].tenants.*.tls.keyPassphrase': 'tenant-passphrase-0007',
  '.endpoints[].tenants.*.tls.pkcs12Passphrase': 'tenant-p12-pass-0008',
  '.profiles[].consumerSecret': 'consumer-secret-0009',
  '.profiles[].privateKeyPassphrase': 'rsa-passphrase-0010',
  '.profiles[].token.token': 'static-token-0011',
  '.profiles[].token.tokenSecret': 'static-token-secret-0012',
  '.store.redis.password': 'redis-password-0013',
  '.store.redis.tls.keyPassphrase': 'redis-tls-pass-0014',
  '.store.redis.sentinel.password': 'sentinel-password-0015',
  '.store.sealKeys[].key': 'seal-key-hex-0016',
  '.callers.apps[].hs256Secret': 'hs256-secret-0017',
  '.callers.gatewayKeys[].passphrase': 'gateway-key-pass-0018',
  '.callers.adminToken': 'admin-token-0019',
  '.interception.caKeyPassphrase': 'ca-passphrase-0020',
  '.tracing.otlp.headers': 'Bearer otlp-credential-0021',
}
/** Passwords inside URLs' userinfo, percent-encoded as written. */
const IN_URLS = { store: 'store-url-p%40ss-0022', via: 'via-url-pass-0023', otlp: 'otlp-url-pass-0024' }

/** Keys named like secrets that hold none: file paths, field names, timeouts, URLs, a switch. */
const NOT_SECRETS = /(\.tls\.key|\.fields\[\]\.key|\.timeouts\.headers|TokenUrl|\.tokenUrlsOnEndpointServer|\.tokenUrlEndpoints)$/

function secretLookingPaths(): string[] {
  const schema = JSON.parse(readFileSync(new URL('../../config/gateway.schema.json', import.meta.url), 'utf8')) as unknown
  const out = new Set<string>()
  const walk = (n: unknown, path: string): void => {
    if (!n || typeof n !== 'object') return
    const node = n as Record<string, unknown>
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, unknown>)) {
      if (/password|passphrase|secret|token|^key$|headers/i.test(k)) out.add(`${path}.${k}`)
      walk(v, `${path}.${k}`)
    }
    walk(node.items, `${path}[]`)
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`)
    for (const c of ['oneOf', 'anyOf', 'allOf']) for (const x of (node[c] ?? []) as unknown[]) walk(x, path)
  }
  walk(schema, '')
  // `profiles[].token` is the token section, whose members are listed.
  return [...out].filter((p) => !NOT_SECRETS.test(p) && p !== '.profiles[].token').sort()
}

describe('configSecretValues', () => {
  it('every secret-looking key of the schema is one this test covers', () => {
    expect(secretLookingPaths()).toEqual(Object.keys(COVERED).sort())
  })

  it('registers every inline secret, passwords in URLs as written and decoded', () => {
    const v = COVERED
    const tls = (pass: string, p12: string): Record<string, string> => ({ keyPassphrase: pass, pkcs12Passphrase: p12 })
    const config = {
      secrets: [],
      listen: { tls: { keyPassphrase: v['.listen.tls.keyPassphrase'] } },
      admin: { tls: { keyPassphrase: v['.admin.tls.keyPassphrase'] }, token: v['.admin.token'] },
      endpoints: [{
        url: 'https://api.partner.test',
        tls: tls(v['.endpoints[].tls.keyPassphrase'] as string, v['.endpoints[].tls.pkcs12Passphrase'] as string),
        tenants: { t1: tls(v['.endpoints[].tenants.*.tls.keyPassphrase'] as string, v['.endpoints[].tenants.*.tls.pkcs12Passphrase'] as string) },
        via: { url: `http://user:${IN_URLS.via}@connector.test:3128`, password: v['.endpoints[].via.password'] },
        fields: [],
      }],
      profiles: [{ consumerSecret: v['.profiles[].consumerSecret'], privateKeyPassphrase: v['.profiles[].privateKeyPassphrase'], token: { token: v['.profiles[].token.token'], tokenSecret: v['.profiles[].token.tokenSecret'] } }],
      store: {
        url: `redis://:${IN_URLS.store}@redis.test:6379`,
        redis: { password: v['.store.redis.password'], tls: { keyPassphrase: v['.store.redis.tls.keyPassphrase'] }, sentinel: { password: v['.store.redis.sentinel.password'] } },
        sealKeys: [{ id: 'k1', key: v['.store.sealKeys[].key'] }],
      },
      callers: { apps: [{ hs256Secret: v['.callers.apps[].hs256Secret'] }], gatewayKeys: [{ passphrase: v['.callers.gatewayKeys[].passphrase'] }], adminToken: v['.callers.adminToken'] },
      interception: { caKeyPassphrase: v['.interception.caKeyPassphrase'] },
      tracing: { otlp: { endpoint: `https://u:${IN_URLS.otlp}@collector.test`, headers: { authorization: v['.tracing.otlp.headers'] } } },
    } as unknown as GatewayConfig
    ;(config.profiles[0] as { requestTokenUrl?: string }).requestTokenUrl = 'https://ck:request-url-pass-0025@provider.test/request'
    ;(config.store as { url?: string }).url = `redis://:${IN_URLS.store}@redis.test:6379`
    const registered = configSecretValues(config)
    expect(registered).toContain('request-url-pass-0025')
    // A malformed escape keeps the value as written; a credential given as the user name counts.
    ;(config.store as { url?: string }).url = 'redis://:bad%zzescape-0026@redis.test:6379'
    expect(configSecretValues(config)).toContain('bad%zzescape-0026')
    ;(config.store as { url?: string }).url = 'rediss://token-as-user-0027@redis.test:6379'
    expect(configSecretValues(config)).toContain('token-as-user-0027')
    // A collector token in the endpoint's query (the export-failure warning names the endpoint).
    ;(config.tracing?.otlp as { endpoint: string }).endpoint = 'https://collector.test/v1/traces?api_key=otlp%2Bquery-token-0028'
    expect(configSecretValues(config)).toEqual(expect.arrayContaining(['otlp+query-token-0028', 'otlp%2Bquery-token-0028']))
    ;(config.tracing?.otlp as { endpoint: string }).endpoint = `https://u:${IN_URLS.otlp}@collector.test`
    ;(config.store as { url?: string }).url = `redis://:${IN_URLS.store}@redis.test:6379`
    for (const [path, secret] of Object.entries(COVERED)) expect(registered, path).toContain(secret)
    for (const secret of Object.values(IN_URLS)) {
      expect(registered).toContain(secret)
      expect(registered).toContain(decodeURIComponent(secret))
    }
  })

  it('registers each value in lower case too, so a host a URL parse lower-cased stays masked (a console reply, a log line)', async () => {
    const { scrubbedJson } = await import('../../src/console/scrub.js')
    const config = { secrets: ['PaRtNeRsEcReThOsT'], listen: {}, admin: {}, endpoints: [], profiles: [] } as unknown as GatewayConfig
    const registered = configSecretValues(config)
    expect(registered).toEqual(['PaRtNeRsEcReThOsT', 'partnersecrethost'])
    // What the console's endpoints view says of such an endpoint: its way in names the parsed host.
    const reply = scrubbedJson({ wayIn: `proxy or CONNECT to ${new URL('https://PaRtNeRsEcReThOsT.example.com').host}` }, registered)
    expect(reply.toLowerCase()).not.toContain('partnersecrethost')
  })

  it('registers each value as a URL writes it too (line breaks dropped, percent-encoded): test-endpoint printing a URL that holds a ${file:} with a line break masks it', async () => {
    const { redactSecrets } = await import('../../src/dance/index.js')
    const value = 'line1-SecA9\nline2 SecB8é'
    const config = { secrets: [value], listen: {}, admin: {}, endpoints: [], profiles: [] } as unknown as GatewayConfig
    const url = new URL(`https://api.partner.test/x${value}`).href
    expect(url).toBe('https://api.partner.test/xline1-SecA9line2%20SecB8%C3%A9')
    expect(redactSecrets(`Connection Test Passed: endpoint "e" (${url})`, configSecretValues(config), '[REDACTED]')).toBe('Connection Test Passed: endpoint "e" (https://api.partner.test/x[REDACTED])')
  })
})
