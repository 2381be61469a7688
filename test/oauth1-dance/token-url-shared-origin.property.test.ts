/**
 * A token URL whose origin several endpoints share (not the profile endpoint's own): which client
 * certificate the token server gets must never be a silent guess. With one certificate among them
 * the first in config order calls it and `check` (and the console's draft validator, and a start's
 * log) warns, naming the profile, the origin and the endpoints; with different certificates a start
 * and `check` refuse at the token URL's key (file:line:col) until `profiles[].tokenUrlEndpoints`
 * names one, which is then the one called. Real TLS servers on 127.0.0.1–3 record the address, SNI
 * and client certificate of each call. Before: the first endpoint in config order was used, silently.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { runCheck } from '../../src/cli/check.js'
import { callTokenUrl } from '../../src/dance/provider.js'
import { ConfigError } from '../../src/errors.js'
import { checkConfig, checkWarnings, compileGateway } from '../../src/gateway/index.js'
import { logConfigWarnings } from '../../src/ops/config-warnings.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { endpointTlsYaml } from './dance-support.js'
import { ADDRESSES, startTokenServers, type TokenServers } from './token-servers.js'

const NAMES = ['api.p.test', 'auth.e.test', 'sni0.e.test', 'sni1.e.test', 'sni2.e.test']
const CERTS = ['client', 'e-client'] as const
const CN: Record<(typeof CERTS)[number], string> = { client: 'bot-runtime', 'e-client': 'e-client' }

let pki: TestPki
let servers: TokenServers
let port = 0
let dir: string

beforeAll(async () => {
  pki = await createTestPki('p256', NAMES)
  pki.writePair('e-client', await pki.issue({ subject: 'CN=e-client', issuer: pki.inter, usages: ['clientAuth'] }))
  servers = await startTokenServers(pki, () => 'oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true')
  port = servers.port
  dir = mkdtempSync(join(tmpdir(), 'token-url-shared-'))
})

afterAll(async () => {
  await servers?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface Scenario {
  /** The client certificate of each endpoint on the token URLs' origin (e0, e1, …, in config order). */
  certs: (typeof CERTS)[number][]
  /** The index of the one named in tokenUrlEndpoints, if any. */
  chosen: number | undefined
}

const tls = (client: string, serverName?: string): string => endpointTlsYaml(pki, client, serverName ? { serverName } : {})

/** Endpoint p (the profile's) on api.p.test; e0… on auth.e.test, each with its own address and SNI, the token URLs on auth.e.test. */
function yaml(s: Scenario): string {
  const shared = s.certs.map((cert, i) => `  - name: e${i}
    url: https://auth.e.test:${port}
    pathPrefix: /e${i}
    resolve: ${ADDRESSES[i % 3]}
    allowPrivate: true${tls(cert, `sni${i}.e.test`)}`).join('\n')
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
callers: { required: false }
endpoints:
  - name: p
    url: https://api.p.test:${port}
    resolve: 127.0.0.2
    allowPrivate: true
    profile: tp${tls('client')}
${shared}
profiles:
  - name: tp
    consumerKey: ck
    consumerSecret: cs
    requestTokenUrl: https://auth.e.test:${port}/request_token
    accessTokenUrl: https://auth.e.test:${port}/access_token
${s.chosen !== undefined ? `    tokenUrlEndpoints: [e${s.chosen}]\n` : ''}`
}

const scenario: fc.Arbitrary<Scenario> = fc.array(fc.constantFrom(...CERTS), { minLength: 1, maxLength: 3 })
  .chain((certs) => fc.record({ certs: fc.constant(certs), chosen: fc.option(fc.nat({ max: certs.length - 1 }), { nil: undefined }) }))

const KEYS = ['profiles[0].requestTokenUrl', 'profiles[0].accessTokenUrl']

describe('a token URL on an origin several endpoints share', () => {
  it('refused when their client certificates differ and none is named; else called over the named one or the first, with a warning only when not named (50 seeded configs, real TLS servers)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const config = parseConfig(join(dir, 'gateway.yaml'), yaml(s))
        const ambiguous = s.certs.length >= 2 && s.chosen === undefined
        const differ = new Set(s.certs).size > 1
        const problems = checkConfig(config).problems.filter((p) => p.key.startsWith('profiles['))
        const warnings = checkWarnings(config).filter((w) => w.key.startsWith('profiles['))
        if (ambiguous && differ) {
          expect(problems.map((p) => p.key)).toEqual(KEYS)
          for (const p of problems) expect(p.msg).toMatch(/^profile "tp": the origin of its (request|access)TokenUrl, https:\/\/auth\.e\.test:\d+, is that of endpoints "e0", "e1".*, which present different client certificates: .*profiles\[\]\.tokenUrlEndpoints$/)
          expect(() => compileGateway(config)).toThrow(ConfigError)
          expect(warnings).toEqual([])
          return
        }
        expect(problems).toEqual([])
        expect(warnings.map((w) => w.key)).toEqual(ambiguous ? KEYS : [])
        for (const w of warnings) expect(w.msg).toContain(`is that of endpoints ${s.certs.map((_, i) => `"e${i}"`).join(', ')} (one client certificate): its token calls there go over "e0", the first in config order`)
        const gateway = compileGateway(config)
        try {
          const used = s.chosen ?? 0
          for (const [which, path] of [['requestTokenUrl', '/request_token'], ['accessTokenUrl', '/access_token']] as const) {
            servers.seen.length = 0
            const reply = await callTokenUrl(gateway, gateway.profiles.get('tp')!, which, which === 'requestTokenUrl' ? { callback: 'https://gw.test/cb' } : { token: 't', tokenSecret: 's', verifier: 'v' })
            expect(reply.status).toBe(200)
            expect(servers.seen).toEqual([{ address: ADDRESSES[used % 3], sni: `sni${used}.e.test`, client: CN[s.certs[used]!], path }])
          }
        } finally {
          await gateway.close()
        }
      }),
      { seed: 0x5ade0, numRuns: 50 },
    )
  }, 240_000)

  it('check prints the refusal at the token URL\'s line and the warning as a warning line; the choice key is checked', () => {
    const file = join(dir, 'check.yaml')
    writeFileSync(file, yaml({ certs: ['client', 'e-client'], chosen: undefined }))
    const line = (key: string): number => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.trimStart().startsWith(`${key}:`)) + 1
    const refused = runCheck(file)
    expect(refused.ok).toBe(false)
    expect(refused.output).toMatch(new RegExp(`^${file}:${line('accessTokenUrl')}:\\d+: profiles\\[0\\]\\.accessTokenUrl: profile "tp": the origin of its accessTokenUrl, https://auth\\.e\\.test:${port}, is that of endpoints "e0", "e1", which present different client certificates`, 'm'))
    writeFileSync(file, yaml({ certs: ['client', 'client'], chosen: undefined }))
    const warned = runCheck(file)
    expect(warned.ok, warned.output).toBe(true)
    expect(warned.output).toMatch(new RegExp(`^${file}:${line('requestTokenUrl')}:\\d+: profiles\\[0\\]\\.requestTokenUrl: warning: profile "tp": the origin of its requestTokenUrl`, 'm'))
    // A start (and each accepted reload) logs the same warnings at their keys.
    const logged: { fields: Record<string, unknown>; msg: string }[] = []
    logConfigWarnings({ warn: (fields: Record<string, unknown>, msg: string) => void logged.push({ fields, msg }) } as unknown as Parameters<typeof logConfigWarnings>[0], parseConfig(file, readFileSync(file, 'utf8')))
    expect(logged.filter((l) => String(l.fields.key).startsWith('profiles[')).map((l) => [l.fields.key, l.fields.line, l.msg.split(', ')[0]])).toEqual([
      ['profiles[0].requestTokenUrl', line('requestTokenUrl'), 'profile "tp": the origin of its requestTokenUrl'],
      ['profiles[0].accessTokenUrl', line('accessTokenUrl'), 'profile "tp": the origin of its accessTokenUrl'],
    ])
    const bad = (extra: string): string[] => checkConfig(parseConfig(file, yaml({ certs: ['client', 'client'], chosen: undefined }) + extra)).problems.map((p) => `${p.key}: ${p.msg}`)
    expect(bad('    tokenUrlEndpoints: [nowhere]\n')).toEqual(['profiles[0].tokenUrlEndpoints: no endpoint named "nowhere"'])
    expect(bad('    tokenUrlEndpoints: [p]\n')).toEqual(['profiles[0].tokenUrlEndpoints: endpoint "p" is not on the origin of the profile\'s requestTokenUrl or accessTokenUrl (the profile\'s own endpoint\'s origin aside): nothing to choose'])
    expect(bad('    tokenUrlEndpoints: [e0, e1]\n')).toEqual([`profiles[0].tokenUrlEndpoints: names "e0", "e1", which share the origin https://auth.e.test:${port} of its requestTokenUrl: name one`])
    expect(bad('    tokenUrlEndpoints: [e1]\n    tokenUrlsOnEndpointServer: true\n')).toEqual(['profiles[0].tokenUrlEndpoints: cannot be used with tokenUrlsOnEndpointServer, which calls every token URL over the profile\'s endpoint'])
  })
})
