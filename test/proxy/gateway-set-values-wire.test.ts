/**
 * What the gateway sets on an upstream request, on the wire, against a real CGI-style backend
 * that binds JSON the way case-insensitive binders do (test/support/b-binder-backend.py, Python's
 * wsgiref behind mTLS): a JSON payload field is the only value bound at its key path; a path field
 * fills only the configured placeholder (route mode and forward proxy), the caller's `{{key}}`
 * arriving as its own text; and the caller's X_Forwarded_For, X_Real_Ip and X_Request_Id never
 * reach the backend as HTTP_X_FORWARDED_FOR, HTTP_X_REAL_IP or HTTP_X_REQUEST_ID, nor X-Client-IP,
 * Client_Ip, True-Client-IP, X-Original-URL or X_Rewrite_Url at all. A payload field also clears
 * the caller's same-name query parameters, literal dotted keys, Turkish-cased and NUL-ended keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startBinderBackend, type BinderBackend, type BinderReading } from '../support/b-binder-backend.js'
import { send, startTestGateway, type Reply } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let backend: BinderBackend
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  backend = await startBinderBackend({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, url: string, fields: string, extra = ''): string => `  - name: ${name}\n    url: "${url}"\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}    fields: ${fields}\n${tls}`
  const origin = `https://api.partner.test:${backend.port}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
endpoints:
${ep('forward', origin, '[{ type: path, key: acct, value: gw-acct }]', '    pathPrefix: "/d/{{acct}}"\n')}${ep('json', `${origin}/api`, '[{ type: payload, key: acct, value: gw-acct }, { type: payload, key: auth.pin, value: gw-pin }]')}${ep('path', `${origin}/u/{{who}}/v`, '[{ type: path, key: who, value: gw-user }]')}`)
}, 120_000)

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  pki?.cleanup()
})

function reading(r: Reply): BinderReading {
  expect(r.status, r.text).toBe(200)
  return r.json<BinderReading>()
}

describe('on the wire, the backend reads only what the gateway set', () => {
  it('a JSON payload field: ACCT, Acct, AUTH, Auth and pın (dotless i) beside it are gone; other keys stay', async () => {
    const body = JSON.stringify({ ACCT: 'c1', Acct: 'c2', AUTH: { pin: 'c3' }, auth: { PIN: 'c4', 'p\u0131n': 'c5', keep: 1 }, Auth: 'c6', other: 'kept' })
    const r = reading(await send(gw.url, '/proxy/json/x?bind=acct&bind=auth.pin&bind=other&bind=auth.keep', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
    expect(r.bound).toEqual({ acct: ['gw-acct'], 'auth.pin': ['gw-pin'], other: ['kept'], 'auth.keep': [1] })
  })

  it('a JSON payload field: the caller\'s ?acct= and ?auth[pin]= go from the query, a literal "auth.pin" and a Turkish-cased PİN from the body', async () => {
    const body = JSON.stringify({ 'auth.pin': 'c1', auth: { 'P\u0130N': 'c2', 'pin\u0000': 'c3' } })
    const r = reading(await send(gw.url, '/proxy/json/x?bind=auth.pin&acct=evil&auth%5Bpin%5D=evil&ACCT=evil', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
    expect(r.raw_path).toBe('/api/x?bind=auth.pin')
    expect(r.body).toBe('{"auth":{"pin":"gw-pin"},"acct":"gw-acct"}')
  })

  it('a path field in route mode: the configured placeholder only; the caller\'s {{who}} arrives as its text', async () => {
    const r = reading(await send(gw.url, '/proxy/path/x/{{who}}/%7B%7Bwho%7D%7D'))
    expect(r.raw_path).toBe('/u/gw-user/v/x/%7B%7Bwho%7D%7D/%7B%7Bwho%7D%7D')
    expect(r.path_info).toBe('/u/gw-user/v/x/{{who}}/{{who}}')
  })

  it('a path field on the forward proxy: the pathPrefix\'s placeholder only', async () => {
    const r = reading(await send(gw.url, `http://api.partner.test:${backend.port}/d/{{acct}}/y/{{acct}}`))
    expect(r.raw_path).toBe('/d/gw-acct/y/%7B%7Bacct%7D%7D')
  })

  it('forwarding headers: a caller\'s X_Forwarded_For, X_Real_Ip and X_Request_Id are not read as the gateway\'s', async () => {
    const res = await send(gw.url, '/proxy/path/h', { headers: { X_Forwarded_For: '6.6.6.6', 'x-forwarded-for': '6.6.6.7', X_Real_Ip: '6.6.6.6', X_Request_Id: 'spoofed', Via: '1.0 caller', 'x-kept_name': 'kept', 'X-Client-IP': '6.6.6.6', Client_Ip: '6.6.6.6', 'True-Client-IP': '6.6.6.6', 'X-Original-URL': '/admin', X_Rewrite_Url: '/admin' } })
    const r = reading(res)
    // PHP's HTTP_CLIENT_IP and friends carry no caller address; no routing header reaches IIS, Symfony or Zend.
    for (const v of ['HTTP_X_CLIENT_IP', 'HTTP_CLIENT_IP', 'HTTP_TRUE_CLIENT_IP', 'HTTP_X_ORIGINAL_URL', 'HTTP_X_REWRITE_URL']) expect(r.http[v], v).toBeUndefined()
    expect(r.http.HTTP_X_FORWARDED_FOR).toBeUndefined()
    expect(r.http.HTTP_X_REAL_IP).toBeUndefined()
    expect(r.http.HTTP_X_REQUEST_ID).toBe(res.headers['x-request-id'])
    expect(r.http.HTTP_X_REQUEST_ID).not.toContain('spoofed')
    expect(r.http.HTTP_VIA).toBe('1.0 caller, 1.1 mtls-gateway')
    expect(r.http.HTTP_X_KEPT_NAME).toBe('kept')
  })
})
