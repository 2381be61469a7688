/**
 * The whole gateway in front of python3-oauthlib's provider over mutual TLS: a signed request's
 * query whose octets verifiers read differently (`%E9`) is a 400 naming what to send, and nothing
 * reaches the provider; the same text percent-encoded as UTF-8 is verified. A raw "[" (JSON:API's
 * `page[size]=10`, PHP's `ids[]=1`) in the query or a form body goes percent-encoded, and both
 * oauthlib's provider and PHP's OAuth.php reading (the request as it arrived) verify it. An
 * `OPTIONS http://host:port` (the server as a whole) on a signed endpoint goes as `OPTIONS /`,
 * signed over `https://host:port/`, which oauthlib verifies; sent as `OPTIONS *` (as before) the
 * provider builds `https://host:port*` and verifies nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway } from '../support/gateway.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'
import { phpVerifier, type Verifier } from '../support/oauth1-verifiers.js'
import { createOpensslTestPki } from '../support/openssl-pki.js'
import { clientTlsYaml, DEFAULT_SERVER_NAMES, type TestPki } from '../support/pki.js'
import { rawRoundTrip } from '../support/raw-client.js'

const CONSUMER = { key: 'gatewayconsumer0000001', secret: 'consumer-secret' }
const TOKEN = { token: 'useraccesstoken00000001', secret: 'token-secret' }

let pki: TestPki
let provider: OAuth1Provider
let gw: RunningGateway
let php: Verifier

beforeAll(async () => {
  pki = await createOpensslTestPki('p256', [...DEFAULT_SERVER_NAMES, 'header.partner.test', 'query.partner.test'])
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret }],
    access_tokens: [{ client_key: CONSUMER.key, token: TOKEN.token, secret: TOKEN.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), require_client_cert: true },
  })
  const endpoints = ['header', 'query'].map((p) => `  - name: ${p}\n    url: https://${p}.partner.test:${provider.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    profile: ${p}\n    tls: ${clientTlsYaml(pki)}\n`).join('')
  const profiles = ['header', 'query'].map((p) => `  - name: ${p}\n    consumerKey: ${CONSUMER.key}\n    consumerSecret: ${CONSUMER.secret}\n    signatureMethod: HMAC-SHA1\n    placement: ${p}\n    token: { mode: static, token: ${TOKEN.token}, tokenSecret: ${TOKEN.secret} }\n`).join('')
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpoints}profiles:\n${profiles}`)
  php = phpVerifier()
})

afterAll(async () => {
  php?.close()
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
})

describe('a signed request through the gateway to python3-oauthlib over mTLS', () => {
  it('a query with %E9 is a 400 naming what to send; as UTF-8 escapes it is verified', async () => {
    for (const p of ['header', 'query']) {
      const latin1 = await send(gw.url, `/proxy/${p}/r?name=Ren%E9`)
      expect(latin1.status).toBe(400)
      expect(latin1.headers['content-length']).toBe(String(latin1.body.length))
      expect(latin1.json()).toEqual({ errors: [{ code: 400, msg: `endpoint "${p}" is signed with OAuth 1.0a, whose signature covers query parameters, and the query has a percent-escape whose octets are not UTF-8 (python-oauthlib reads U+FFFD, PHP the octet), so no signature would verify everywhere: percent-encode text as UTF-8 (é is %C3%A9)` }] })
      const ok = await send(gw.url, `/proxy/${p}/r?name=Ren%C3%A9&filter%5Ba%5D=1`)
      expect(ok.status, ok.text).toBe(200)
      expect(ok.json<{ ok: boolean; params: [string, string][] }>()).toMatchObject({ ok: true, params: expect.arrayContaining([['name', 'René'], ['filter[a]', '1']]) })
    }
  })

  it('a raw page[size]=10&filter[name]=x (and a form body tags[]=a b) goes percent-encoded: oauthlib\'s provider and PHP verify it', async () => {
    interface Arrived { ok: boolean; uri: string; method: string; params: [string, string][]; headers: Record<string, string>; authorization: string; body_hex: string; body: string }
    for (const p of ['header', 'query']) {
      for (const form of [undefined, 'tags[]=a b&q=x|y']) {
        const r = await send(gw.url, `/proxy/${p}/r?page[size]=10&filter[name]=x`, form === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form })
        expect(r.status, r.text).toBe(200)
        const arrived = r.json<Arrived>()
        expect(arrived.ok).toBe(true)
        expect(arrived.uri).toMatch(new RegExp(`^https://${p}\\.partner\\.test:${provider.port}/r\\?(oauth_[^&]*&)*page%5Bsize%5D=10&filter%5Bname%5D=x$`))
        expect(arrived.params).toEqual(expect.arrayContaining([['page[size]', '10'], ['filter[name]', 'x'], ...(form ? [['tags[]', 'a b'], ['q', 'x|y']] : [])]))
        if (form !== undefined) {
          expect(arrived.body).toBe('tags%5B%5D=a%20b&q=x%7Cy')
          expect(arrived.headers['content-length']).toBe(String(arrived.body.length))
        }
        const headers = { ...arrived.headers, ...(arrived.authorization ? { authorization: arrived.authorization } : {}) }
        const v = await php.ask({ uri: arrived.uri, method: arrived.method, headers, body_hex: arrived.body_hex, client_secret: CONSUMER.secret, token_secret: TOKEN.secret })
        expect(v.ok, `${p} ${form} ${v.base}`).toBe(true)
      }
    }
  })

  it('OPTIONS http://host:port on a signed endpoint goes as OPTIONS / and oauthlib verifies it', async () => {
    for (const p of ['header', 'query']) {
      const authority = `${p}.partner.test:${provider.port}`
      const r = await rawRoundTrip(gw.port, `OPTIONS http://${authority} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
      const text = r.body.toString('utf8')
      expect(r.status, text).toBe(200)
      expect(JSON.parse(text)).toMatchObject({ ok: true, uri: expect.stringMatching(new RegExp(`^https://${authority.replace('.', '\\.')}/(\\?|$)`)) })
    }
  })
})
