import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CompactEncrypt, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { send, startTestGateway } from '../support/gateway.js'
import { storeYaml, TOPOLOGIES, useTopology, type StoreLocation } from '../support/topology.js'
import { rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'

// Caller security through the real gateway: token exchange, bearer use on both ways in,
// refusals with the right status, a JWE claim filling an authorization field, jti replay —
// run against every topology (in-process, --workers 2, two replicas on Redis with requests
// alternating) — and inbound mTLS with the real curl.
const run = promisify(execFile)

/** Runs curl expecting it to fail: its exit code and stderr (a success fails the test). */
async function curlFailure(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await run('curl', args).then(
    (ok) => ({ code: 0, stderr: `curl succeeded: ${ok.stdout}` }),
    (e: { code?: unknown; stderr?: unknown }) => ({ code: typeof e.code === 'number' ? e.code : -1, stderr: String(e.stderr) }),
  )
  expect(r.code, r.stderr).not.toBe(0)
  return r
}
const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const now = (): number => Math.floor(Date.now() / 1000)
const sealKey = randomBytes(32).toString('base64')

let pki: TestPki
let upstream: RunningServer
let jweKey: RsaPair
let yamlFor: (store: StoreLocation) => string

const hsJwt = (over: Record<string, unknown> = {}, iss = 'bot'): Promise<string> =>
  new SignJWT({ iss, aud: AUD, sub: 'user-7', iat: now(), exp: now() + 300, ...over }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))

async function exchange(url: string, assertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  return { status: r.status, body: r.json() }
}

beforeAll(async () => {
  pki = await createOpensslTestPki('p256')
  jweKey = rsaPair()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  writeFileSync(join(pki.dir, 'jwe.pem'), jweKey.privatePem)
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, extra = ''): string => `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}${tls}`
  yamlFor = (store) => `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
${storeYaml(store, [{ id: 'k1', key: sealKey }])}callers:
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [payments, accounts] }
    - { clientId: other, hs256Secret: "${HS}-other", audience: "${AUD}", endpoints: [accounts] }
    - { clientId: cert-app, audience: "${AUD}", endpoints: [accounts], clientCertificate: { subject: trusted-caller } }
  gatewayKeys: [{ kid: gw-1, privateKey: "\${file:${join(pki.dir, 'jwe.pem')}}" }]
endpoints:
${ep('payments', '    pathPrefix: /pay\n    fields:\n      - { type: header, key: X-Account-Pin, value: "{{claims.pin}}" }\n      - { type: header, key: X-User, value: "{{user}}" }\n')}${ep('accounts')}`
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

describe.each(TOPOLOGIES)('caller credentials on the proxied path (%s)', (kind) => {
  const { gw } = useTopology(kind, 'callers', (store) => yamlFor(store))

  it('refuses calls without credentials: 407 on the proxy path, 401 in route mode, each with a challenge', async () => {
    const proxy = await send(gw.url, `http://api.partner.test:${upstream.port}/x`)
    expect(proxy.status).toBe(407)
    expect(proxy.headers['proxy-authenticate']).toMatch(/^Bearer/)
    expect(proxy.json<{ errors: { code: number }[] }>().errors[0]?.code).toBe(407)
    const route = await send(gw.url, '/proxy/accounts/x')
    expect(route.status).toBe(401)
    expect(route.headers['www-authenticate']).toMatch(/^Bearer/)
  })

  it('exchanges a JWT for a bearer token that works on both ways in and is stripped before forwarding', async () => {
    const { status, body } = await exchange(gw.url, await hsJwt({ jti: randomUUID() }))
    expect(status).toBe(200)
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 900, access_token: expect.any(String) })
    const token = body.access_token as string
    const viaProxy = await send(gw.url, `http://api.partner.test:${upstream.port}/x`, { headers: { 'proxy-authorization': `Bearer ${token}` } })
    expect(viaProxy.status).toBe(200)
    expect(viaProxy.json<EchoReply>().headers['proxy-authorization']).toBeUndefined()
    const viaRoute = await send(gw.url, '/proxy/accounts/x', { headers: { authorization: `Bearer ${token}` } })
    expect(viaRoute.status).toBe(200)
    expect(viaRoute.json<EchoReply>().headers.authorization).toBeUndefined()
  })

  it('accepts a JWT without jti directly as the bearer, and refuses an app on an endpoint it may not use', async () => {
    const direct = await send(gw.url, '/proxy/accounts/x', { headers: { 'proxy-authorization': `Bearer ${await hsJwt()}` } })
    expect(direct.status).toBe(200)
    const other = await new SignJWT({ iss: 'other', aud: AUD, sub: 'u', iat: now(), exp: now() + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(`${HS}-other`))
    const denied = await send(gw.url, '/proxy/payments/x', { headers: { 'proxy-authorization': `Bearer ${other}` } })
    expect(denied.status).toBe(403)
    expect(denied.json()).toEqual({ errors: [{ msg: expect.stringContaining('"other"'), code: 403 }] })
  })

  it('gives the exact texts for jti rules and replay, as 401 on the gateway API', async () => {
    const long = await exchange(gw.url, await hsJwt({ jti: randomUUID(), exp: now() + 3601 + 60, iat: now() }))
    expect(long).toEqual({ status: 401, body: { errors: [{ msg: 'error verifying the jwt: if "jti" claim "exp" must be <= 1 hour(s)', code: 401 }] } })
    const once = await hsJwt({ jti: randomUUID() })
    expect((await exchange(gw.url, once)).status).toBe(200)
    expect(await exchange(gw.url, once)).toEqual({ status: 401, body: { errors: [{ msg: 'error verifying the jwt: possibly a replay', code: 401 }] } })
    const bad = await send(gw.url, `http://api.partner.test:${upstream.port}/x`, { headers: { 'proxy-authorization': 'Bearer not-a-token' } })
    expect(bad.status).toBe(407)
    const badRoute = await send(gw.url, '/proxy/accounts/x', { headers: { 'proxy-authorization': 'Bearer not-a-token' } })
    expect(badRoute.status).toBe(401)
  })

  it('JWE assertion → bearer → a proxied call whose field comes from a decrypted claim, never echoed back', async () => {
    const jwks = await send(gw.url, '/gateway/jwks.json')
    expect(jwks.json<{ keys: { kid: string }[] }>().keys.map((k) => k.kid)).toEqual(['gw-1'])
    const pin = `pin-${randomBytes(4).toString('hex')}`
    const inner = await hsJwt({ jti: randomUUID(), pin })
    const jwe = await new CompactEncrypt(new TextEncoder().encode(inner)).setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-1', cty: 'JWT' }).encrypt(jweKey.publicKey)
    const { status, body } = await exchange(gw.url, jwe)
    expect(status, JSON.stringify(body)).toBe(200)
    const r = await send(gw.url, '/proxy/payments/pay', { headers: { 'proxy-authorization': `Bearer ${body.access_token as string}` } })
    expect(r.status).toBe(200)
    const echo = r.json<EchoReply>()
    expect(echo.headers['x-account-pin']).toBe(pin)
    expect(echo.headers['x-user']).toBe('user-7')
  })
})

describe('inbound TLS with caller certificates (real curl)', () => {
  let tlsGw: RunningGateway
  afterAll(async () => tlsGw?.close())

  it('a trusted caller certificate identifies its app; an untrusted one is refused at the handshake', async () => {
    const caller = pki.writePair('caller', await pki.issue({ subject: 'CN=trusted-caller', issuer: pki.inter, usages: ['clientAuth'] }), { chain: [pki.inter] })
    const rogueCa = await pki.issue({ subject: 'CN=Rogue', ca: true })
    const rogue = pki.writePair('rogue', await pki.issue({ subject: 'CN=trusted-caller', issuer: rogueCa, usages: ['clientAuth'] }))
    const listen = `listen:\n  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')}, clientCa: ${pki.file('root.crt')}, requireClientCert: true }\n`
    tlsGw = await startTestGateway(pki.dir, yamlFor({ kind: 'sqlite', file: join(pki.dir, 'tls.db') }).replace('listen: { host: 127.0.0.1, port: 0 }\n', listen))
    const url = `https://localhost:${tlsGw.port}/proxy/accounts/hello`
    const ok = await run('curl', ['-sS', '--cacert', pki.file('root.crt'), '--cert', caller.cert, '--key', caller.key, url])
    expect(JSON.parse(ok.stdout)).toMatchObject({ url: '/hello', clientSubject: 'CN=bot-runtime,O=mtls-gateway tests' })
    const notAllowed = await run('curl', ['-sS', '--cacert', pki.file('root.crt'), '--cert', caller.cert, '--key', caller.key, `https://localhost:${tlsGw.port}/proxy/payments/x`])
    expect(JSON.parse(notAllowed.stdout)).toEqual({ errors: [{ msg: expect.stringContaining('"cert-app"'), code: 403 }] })
    const refused = await curlFailure(['-sS', '--cacert', pki.file('root.crt'), '--cert', rogue.cert, '--key', rogue.key, url])
    // TLS 1.3: curl finishes its side, then reads the server's alert (exit 56) or an empty reply (52).
    expect([35, 52, 56], refused.stderr).toContain(refused.code)
    // No certificate at all: OpenSSL on the gateway's side ends the handshake with the TLS 1.3
    // alert certificate_required, which curl reports on its first read.
    const none = await curlFailure(['-sS', '--cacert', pki.file('root.crt'), url])
    expect(none).toEqual({ code: 56, stderr: expect.stringMatching(/:tlsv13 alert certificate required,/) })
  })
})
