/**
 * "Test authorization" never shows a `${env:}`/`${file:}` value of the config: a provider API key
 * in the request-token URL's query is shown as its reference in the message and the URL, and
 * taken out of the provider's answer (which echoes the request) in whatever encoding it comes
 * back. The same report feeds test-auth, the console's Test tabs and the dance's failure page.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { formatProfileTest, testProfile } from '../../src/dance/index.js'
import { compileGateway } from '../../src/gateway/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let provider: RunningServer

beforeAll(async () => {
  pki = await createTestPki('p256')
  // A provider that refuses and echoes the request, as many do: JSON, the URL percent-decoded too.
  provider = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'x-request-url': req.url ?? '' })
      res.end(JSON.stringify({ error: 'invalid_consumer', url: req.url, decoded: decodeURIComponent(req.url ?? '') }))
    },
  })
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
})

function yaml(): string {
  return `endpoints:
  - name: partner
    url: https://api.partner.test:${provider.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: p
    tls: ${clientTlsYaml(pki)}
profiles:
  - name: p
    consumerKey: ck
    consumerSecret: "\${file:consumer-secret}"
    requestTokenUrl: "https://api.partner.test:${provider.port}/oauth/request_token?api_key=\${env:PROVIDER_API_KEY}"
`
}

describe('test-auth shows no value of the config', () => {
  it('an API key in the request-token URL shows as its reference, and never in the provider\'s echo (40 runs)', async () => {
    writeFileSync(join(pki.dir, 'consumer-secret'), 'consumer-secret-value')
    const file = join(pki.dir, 'gateway.yaml')
    // URL-safe (it is written into the URL as it is), long enough that no piece occurs by chance.
    const key = fc.stringMatching(/^[A-Za-z0-9_.~-]{12,40}$/).filter((k) => /[A-Za-z]{3}/.test(k))
    await fc.assert(
      fc.asyncProperty(key, async (apiKey) => {
        const gateway = compileGateway(parseConfig(file, yaml(), { env: { PROVIDER_API_KEY: apiKey } }))
        try {
          const r = await testProfile(gateway, 'p', undefined)
          expect(r.ok).toBe(false)
          const shown = JSON.stringify(r) + formatProfileTest(r)
          expect(shown).toContain('${env:PROVIDER_API_KEY}')
          expect(shown).toContain('HTTP 401')
          expect(shown.includes(apiKey), shown).toBe(false)
        } finally {
          await gateway.close()
        }
      }),
      { seed: 0xa91, numRuns: 40 },
    )
  })
})
