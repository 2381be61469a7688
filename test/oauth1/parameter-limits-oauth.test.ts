/**
 * OAuth 1.0a protocol parameters in the query or the form body, beside many caller parameters.
 * PHP keeps the first max_input_vars (1000) parameters and Express's qs the first parameterLimit
 * (1000): protocol parameters appended after a caller's 1,000 were dropped there, so the backend
 * saw no oauth_signature and its check failed. They go first; the signature base string sorts
 * parameters (RFC 5849 §3.4.1.3.2), so the order does not change what is signed. Judged by real
 * PHP (`php -n -S`, test/peers/php_request.php) for what is read and by python3-oauthlib for the
 * signature, both over mTLS behind a gateway process, over generated parameter counts (seeded).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway } from '../support/gateway.js'
import { singleClientConfig, startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { startPhpBackend, type PhpBackend, type PhpReading } from '../support/php-backend.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const CONSUMER = { key: 'gatewayconsumer0000001', secret: 'consumer-secret' }
const TOKEN = { token: 'useraccesstoken00000001', secret: 'token-secret' }
const PLACEMENTS = ['query', 'body'] as const
const PROTOCOL_NAMES = ['oauth_consumer_key', 'oauth_nonce', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_token']

let pki: TestPki
let php: PhpBackend
let phpServer: RunningServer
let provider: OAuth1Provider
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  php = await startPhpBackend()
  phpServer = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (req, res) => php.relay(req, res) })
  provider = await startOAuth1Provider(singleClientConfig(pki, CONSUMER, TOKEN))
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  let endpoints = ''
  let profiles = ''
  for (const placement of PLACEMENTS) {
    // A query field and a payload field too, so the gateway's own parameters are several kinds.
    profiles += `  - name: ${placement}\n    consumerKey: ${CONSUMER.key}\n    consumerSecret: ${CONSUMER.secret}\n    signatureMethod: HMAC-SHA256\n` +
      `    placement: ${placement}\n    token: { mode: static, token: ${TOKEN.token}, tokenSecret: ${TOKEN.secret} }\n` +
      `    fields:\n      - { type: query, key: acct, value: "42" }\n      - { type: payload, key: pin, value: "7 7" }\n`
    for (const [backend, port] of [['php', phpServer.port], ['oauthlib', provider.port]] as const) {
      endpoints += `  - name: ${backend}-${placement}\n    url: https://api.partner.test:${port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    profile: ${placement}\n${tls}`
    }
  }
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpoints}profiles:\n${profiles}`)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  await phpServer?.close()
  await php?.stop()
  pki?.cleanup()
})

const callerParameters = (n: number): string => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join('&')

interface Verified { ok: boolean; signature_type?: string; params?: [string, string][] }

describe('OAuth protocol parameters beside many caller parameters', () => {
  it('are read by PHP and verified by oauthlib, however many parameters the caller sends (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 995, max: 1400 }), fc.constantFrom(...PLACEMENTS), fc.constantFrom('query', 'body'), async (n, placement, callerIn) => {
        const many = callerParameters(n)
        const path = (backend: string): string => `/proxy/${backend}-${placement}/x?${callerIn === 'query' ? many : 'q=1'}`
        const o = { method: 'POST', body: callerIn === 'body' ? many : 'b=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
        const read = await send(gw.url, path('php'), o)
        expect(read.status, read.text).toBe(200)
        const reading = read.json<PhpReading>()
        const where = placement === 'query' ? reading.get : reading.post
        const what = `${placement} placement, ${n} caller parameters in the ${callerIn}`
        for (const name of PROTOCOL_NAMES) expect(where[name], `${name}: ${what}`).toEqual(expect.any(String))
        expect(reading.get.acct, what).toBe('42')
        expect(reading.post.pin, what).toBe('7 7')
        const verified = await send(gw.url, path('oauthlib'), o)
        const v = verified.json<Verified>()
        expect(v.ok, `${what}: ${verified.text.slice(0, 500)}`).toBe(true)
        expect(v.signature_type).toBe(placement === 'query' ? 'QUERY' : 'BODY')
        expect(v.params).toEqual(expect.arrayContaining([['acct', '42'], ['pin', '7 7'], [`p${n - 1}`, String(n - 1)]]))
      }),
      { seed: 20261205, numRuns: 8 },
    )
  }, 180_000)
})
