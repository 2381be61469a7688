/**
 * A dance is completed only under the settings it started with, and the endpoint its access-token
 * call goes over is one of them: over generated configs before and after a reload (none, one or two
 * endpoints on the token URLs' origin, a tokenUrlEndpoints choice, tokenUrlsOnEndpointServer), the
 * dance's settings digest is unchanged exactly when that endpoint (and the switch) is. Before, a
 * reload that added or removed the endpoint owning the token host kept the digest, and the
 * callback's access-token call went to another server with another client certificate.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { danceSettings } from '../../src/dance/dance-settings.js'
import { tokenEndpoint } from '../../src/dance/provider.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { endpointTlsYaml } from './dance-support.js'

const ACCESS = 'https://auth.e.test/access_token'
let pki: TestPki

beforeAll(async () => {
  pki = await createTestPki()
})

afterAll(() => pki?.cleanup())

interface Variant { owners: number; choice: number | undefined; onServer: boolean }

const variant: fc.Arbitrary<Variant> = fc.integer({ min: 0, max: 2 }).chain((owners) => fc.record({
  owners: fc.constant(owners),
  choice: owners === 0 ? fc.constant(undefined) : fc.option(fc.nat({ max: owners - 1 }), { nil: undefined }),
  onServer: fc.boolean(),
})).map((v) => (v.onServer ? { ...v, choice: undefined } : v))

function compile(v: Variant): Gateway {
  const owners = Array.from({ length: v.owners }, (_, i) => `  - name: e${i}\n    url: https://auth.e.test\n    pathPrefix: /e${i}${endpointTlsYaml(pki, 'client')}`).join('\n')
  return compileGateway(parseConfig('/tmp/dance-settings-reroute.yaml', `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
store: { kind: sqlite, file: /tmp/unused.db, sealKeys: [{ id: k1, key: "${'a'.repeat(64)}" }] }
endpoints:
  - name: p
    url: https://api.p.test
    profile: partner${endpointTlsYaml(pki, 'client')}
${owners}
profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs
    requestTokenUrl: https://auth.e.test/request_token
    accessTokenUrl: ${ACCESS}
    authorizeUrl: https://auth.e.test/authorize
    token: { mode: per_user }
${v.choice !== undefined ? `    tokenUrlEndpoints: [e${v.choice}]\n` : ''}${v.onServer ? '    tokenUrlsOnEndpointServer: true\n' : ''}`))
}

describe('a dance\'s settings across a reload', () => {
  it('change exactly when the endpoint its access-token call goes over (or tokenUrlsOnEndpointServer) changes (150 seeded pairs)', async () => {
    await fc.assert(
      fc.asyncProperty(variant, variant, async (before, after) => {
        const [a, b] = [compile(before), compile(after)]
        try {
          const scope = { user: 'alice' }
          const via = (g: Gateway): string => tokenEndpoint(g, g.profiles.get('partner')!, ACCESS, undefined).name
          const same = via(a) === via(b) && before.onServer === after.onServer
          expect(danceSettings(a, a.profiles.get('partner')!, scope) === danceSettings(b, b.profiles.get('partner')!, scope), `${via(a)} → ${via(b)}`).toBe(same)
        } finally {
          await Promise.all([a.close(), b.close()])
        }
      }),
      { seed: 0xda5ce, numRuns: 150 },
    )
  }, 120_000)
})
