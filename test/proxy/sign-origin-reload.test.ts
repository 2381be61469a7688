/**
 * The signer reads the outbound URL's scheme and host from the request's target, which takes them
 * from the endpoint's destination, split once when the config is compiled (gateway/destination.ts),
 * not per request. A reload compiles a new destination: a signature made after a reload that moved
 * the endpoint to another host and port must name the new ones (python3-oauthlib checks it against
 * the Host header it got), not the ones split for the old snapshot.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { send } from '../support/gateway.js'
import { eventually, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const CONSUMER = { key: 'gatewayconsumer0000001', secret: 'consumer-secret' }
const TOKEN = { token: 'useraccesstoken00000001', secret: 'token-secret' }

interface Verified {
  ok: boolean
  uri?: string
  description?: string
}

let pki: TestPki
let provider: OAuth1Provider
let g: OpsGateway

/** The config with the endpoint `signed` at `origin` (a name the server's certificate holds, resolved to 127.0.0.1). */
const config = (origin: string): string =>
  `endpoints:\n  - name: signed\n    url: ${origin}/v1\n    resolve: 127.0.0.1\n    allowPrivate: true\n    profile: signed\n    tls: ${clientTlsYaml(pki)}\n` +
  `profiles:\n  - name: signed\n    consumerKey: ${CONSUMER.key}\n    consumerSecret: ${CONSUMER.secret}\n    signatureMethod: HMAC-SHA1\n    placement: header\n` +
  `    token: { mode: static, token: ${TOKEN.token}, tokenSecret: ${TOKEN.secret} }\n`

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret }],
    access_tokens: [{ client_key: CONSUMER.key, token: TOKEN.token, secret: TOKEN.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), require_client_cert: true },
  })
  g = await startOpsGateway(pki.dir, config(`https://api.partner.test:${provider.port}`))
})

afterAll(async () => {
  await g?.gw.close()
  await provider?.close()
  pki?.cleanup()
})

describe('the signed origin after a reload', () => {
  it('a signature made after a reload that moves the endpoint names the new host, verified by python3-oauthlib', async () => {
    const before = await send(g.gw.url, '/proxy/signed/items?id=1')
    const first = before.json<Verified>()
    expect(first.ok, before.text).toBe(true)
    expect(first.uri).toBe(`https://api.partner.test:${provider.port}/v1/items?id=1`)
    const old = g.gw.ref.current
    // Same server, same profile, another name for it: only the origin the signer reads differs.
    replaceFile(join(pki.dir, 'gateway.yaml'), config(`https://localhost:${provider.port}`))
    await eventually(() => g.gw.ref.current !== old, undefined, 'the reload')
    const after = await send(g.gw.url, '/proxy/signed/items?id=2')
    const second = after.json<Verified>()
    expect(second.ok, after.text).toBe(true)
    expect(second.uri).toBe(`https://localhost:${provider.port}/v1/items?id=2`)
  })
})
