/**
 * The oauthlib provider's HTTPS mode with a required client certificate, which the gateway's
 * mTLS tests will rely on. A throw-away PKI is made with the openssl CLI.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../../src/oauth1/index.js'
import { startOAuth1Provider, type OAuth1Provider } from '../support/oauth1-provider.js'

const dir = mkdtempSync(join(tmpdir(), 'oauth1-tls-'))
const file = (name: string): string => join(dir, name)

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' })
}

function issue(name: string, cn: string, ext: string): void {
  writeFileSync(file(`${name}.ext`), `${ext}\n`)
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`)
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file(`${name}.pem`), '-days', '2', '-extfile', file(`${name}.ext`))
}

const CONSUMER = { consumerKey: 'tlsconsumerkey00000001', consumerSecret: 'tls-secret' }
const TOKEN = { token: 'tlsaccesstoken000000001', tokenSecret: 'tls-token-secret' }
let provider: OAuth1Provider

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=oauth1 test CA')
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth')
  issue('client', 'gateway-client', 'extendedKeyUsage=clientAuth')
  provider = await startOAuth1Provider({
    clients: [{ key: CONSUMER.consumerKey, secret: CONSUMER.consumerSecret }],
    access_tokens: [{ client_key: CONSUMER.consumerKey, token: TOKEN.token, secret: TOKEN.tokenSecret }],
    tls: { cert: file('server.pem'), key: file('server.key'), ca: file('ca.pem'), require_client_cert: true },
  })
})

afterAll(async () => {
  await provider?.close()
  rmSync(dir, { recursive: true, force: true })
})

function get(url: string, headers: Record<string, string>, withClientCert: boolean): Promise<{ status: number; json: Record<string, unknown> }> {
  const tls = { ca: readFileSync(file('ca.pem')), ...(withClientCert ? { cert: readFileSync(file('client.pem')), key: readFileSync(file('client.key')) } : {}) }
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, ...tls, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('oauthlib provider over mutual TLS', () => {
  it('serves https, verifies the signature (https base string URI) and reports the client certificate', async () => {
    expect(provider.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const signed = signRequest({ ...CONSUMER, ...TOKEN, method: 'GET', url: `${provider.url}/resource/tls?a=1`, signatureMethod: 'PLAINTEXT', placement: 'header' })
    const res = await get(signed.url, { authorization: signed.authorizationHeader ?? '' }, true)
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ ok: true, signature_method: 'PLAINTEXT', client_cert: { subject: [['commonName', 'gateway-client']] } })
  })

  it('refuses a client without a certificate', async () => {
    const signed = signRequest({ ...CONSUMER, ...TOKEN, method: 'GET', url: `${provider.url}/resource/tls`, signatureMethod: 'HMAC-SHA1', placement: 'header' })
    await expect(get(signed.url, { authorization: signed.authorizationHeader ?? '' }, false)).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    })
  })
})
