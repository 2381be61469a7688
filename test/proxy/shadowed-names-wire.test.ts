/**
 * The review's shadowing findings on the wire, against a real CGI-style backend (Python's
 * wsgiref behind mTLS, test/peers/wsgi_backend.py): a caller header that WSGI keys as the
 * gateway's HTTP_X_ALPHA_SECRET, and caller query or form parameters that a parser reads as the
 * gateway's field, never reach it beside the gateway's value; unrelated ones arrive byte for
 * byte; a path-field value with whitespace at either end, or only whitespace, is a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway, type Reply } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startWsgiBackend, type WsgiBackend, type WsgiReading } from '../support/wsgi-backend.js'

let pki: TestPki
let backend: WsgiBackend
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  backend = await startWsgiBackend({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, url: string, fields: string): string => `  - name: ${name}\n    url: "${url}"\n    resolve: 127.0.0.1\n    allowPrivate: true\n    fields: ${fields}\n${tls}`
  const origin = `https://api.partner.test:${backend.port}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
endpoints:
${ep('cgi', `${origin}/app`, '[{ type: header, key: X-Alpha-Secret, value: gateway-secret }, { type: query, key: acct, value: gw-acct }]')}${ep('cgi_form', `${origin}/form`, '[{ type: payload, key: acct, value: gw-acct }]')}${ep('cgi_path', `${origin}/u/{{who}}`, '[{ type: path, key: who, value: "{{user}}" }]')}${ep('cgi_tenant', `${origin}/t`, '[]')}`)
}, 120_000)

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  pki?.cleanup()
})

function reading(r: Reply): WsgiReading {
  expect(r.status, r.text).toBe(200)
  return r.json<WsgiReading>()
}

describe('a CGI-style backend reads only the gateway\'s value', () => {
  it('for a header field: X_Alpha_Secret, x-alpha_secret and X.Alpha.Secret beside it are gone', async () => {
    const r = reading(await send(gw.url, '/proxy/cgi/x', { headers: { X_Alpha_Secret: 'caller-1', 'x-alpha_secret': 'caller-2', 'X.Alpha.Secret': 'caller-3', 'X-Alpha-Secrets': 'kept' } }))
    expect(r.http.HTTP_X_ALPHA_SECRET).toBe('gateway-secret')
    expect(r.http.HTTP_X_ALPHA_SECRETS).toBe('kept')
  })

  it('for a query field: ;acct=, acct%00=, ac%63t=, acct[]=, ACCT= are gone, other parameters keep their bytes', async () => {
    const r = reading(await send(gw.url, '/proxy/cgi/x?x=1%2F2;acct=a&acct%00=b&ac%63t=c&acct[]=d&ACCT=e&+acct=f&ac%2563t=g&keep=%7e+1'))
    expect(r.query_string).toBe('acct=gw-acct&x=1%2F2&keep=%7e+1')
    expect(r.query.acct).toEqual(['gw-acct'])
    expect(r.query_semicolon.acct).toEqual(['gw-acct'])
    expect(r.query.keep).toEqual(['~ 1'])
  })

  it('for a query field beside a form body: the form\'s same-name parameters go; a Content-Type only some parsers read as a form is refused, never passed on', async () => {
    const form = reading(await send(gw.url, '/proxy/cgi/x', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'acct=evil&x=1' }))
    expect(form.form).toEqual({ x: ['1'] })
    // PHP cuts the type at ",", " " or ";" and reads a form; WSGI's cgi module would not.
    for (const type of ['application/x-www-form-urlencoded,text/plain', 'application/x-www-form-urlencoded x', 'text/plain; x=application/x-www-form-urlencoded']) {
      const r = await send(gw.url, '/proxy/cgi/x', { method: 'POST', headers: { 'content-type': type }, body: 'acct=evil&x=1' })
      expect(r.status, `${type}: ${r.text}`).toBe(400)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^endpoint "cgi" sets query or payload fields, and Content-Type ".+" is read as a form by some backends and not by others/), code: 400 }] })
    }
  })

  it('for a query field beside a body without a type (Rack reads it as a form): refused; a Connection header cannot take the type away; Content.Type, Content_Type and Transfer_Encoding never arrive', async () => {
    for (const headers of [{}, { 'content-type': '' }, { 'content-type': ';charset=utf-8' }] as Record<string, string>[]) {
      const r = await send(gw.url, '/proxy/cgi/x', { method: 'POST', headers, body: 'acct=evil&x=1' })
      expect(r.status, `${JSON.stringify(headers)}: ${r.text}`).toBe(400)
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^endpoint "cgi" sets query or payload fields, and (the request has a body without a Content-Type|Content-Type ";charset=utf-8")/), code: 400 }] })
    }
    // Not refused: an untyped PUT (`curl -T`; no parser reads it as a form), and an empty form
    // that a payload field fills.
    expect(reading(await send(gw.url, '/proxy/cgi/x', { method: 'PUT', body: 'acct=evil&x=1' })).query.acct).toEqual(['gw-acct'])
    const filled = reading(await send(gw.url, '/proxy/cgi_form/x', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }, body: '' }))
    expect(filled.form).toEqual({ acct: ['gw-acct'] })
    const named = reading(await send(gw.url, '/proxy/cgi/x', { method: 'POST', headers: { connection: 'content-type, content-length', 'content-type': 'application/x-www-form-urlencoded' }, body: 'acct=evil&x=1' }))
    expect(named.form).toEqual({ x: ['1'] })
    const shadowed = reading(await send(gw.url, '/proxy/cgi/x', { method: 'PUT', headers: { 'content-type': 'text/plain', 'Content.Type': 'application/x-www-form-urlencoded', Content_Length: '3' }, body: 'acct=evil&x=1' }))
    expect(Object.keys(shadowed.http).filter((k) => /^HTTP_CONTENT/.test(k))).toEqual([])
    // Transfer-Encoding too: Werkzeug reads HTTP_TRANSFER_ENCODING "chunked" as "no length" and hands the
    // application an empty body where CONTENT_LENGTH names the one the gateway judged and sent.
    for (const name of ['Transfer_Encoding', 'transfer.encoding']) {
      const framed = reading(await send(gw.url, '/proxy/cgi/x', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', [name]: 'chunked' }, body: 'x=1' }))
      expect([name, Object.keys(framed.http).filter((k) => /TRANSFER/.test(k)), framed.form]).toEqual([name, [], { x: ['1'] }])
    }
  })

  it('the tenant header is the gateway\'s: in no spelling does it reach the backend', async () => {
    const r = reading(await send(gw.url, '/proxy/cgi_tenant/x', { headers: { 'X-Gateway-Tenant': 'acme', X_Gateway_Tenant: 'evil', 'x.gateway.tenant': 'evil', 'X-Gateway-Tenants': 'kept' } }))
    expect(Object.keys(r.http).filter((k) => /TENANT/.test(k))).toEqual(['HTTP_X_GATEWAY_TENANTS'])
  })

  it('for a form payload field: the same', async () => {
    const r = reading(await send(gw.url, '/proxy/cgi_form/x', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1;acct=x&acct%00=y&ACCT=z&b=%41' }))
    expect(r.form).toEqual({ a: ['1'], b: ['A'], acct: ['gw-acct'] })
  })
})

describe('path fields', () => {
  it('a value with whitespace at either end is a 400 naming the field; inside, it is data', async () => {
    // (HTTP itself drops the spaces around a header value, so X-Gateway-User carries them encoded or as
    // NBSP, UTF-8 encoded as header text is read: Node's client sends a string one byte per character.)
    for (const user of ['%2042', '42%20', '\u00a042', '42\u00a0', '42%0A']) {
      const r = await send(gw.url, '/proxy/cgi_path/statement', { headers: { 'x-gateway-user': Buffer.from(user, 'utf8').toString('latin1') } })
      expect(r.status, `${JSON.stringify(user)}: ${r.text}`).toBe(400)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^path field "who": its value (starts or ends with whitespace|contains a control character)/), code: 400 }] })
    }
    expect(reading(await send(gw.url, '/proxy/cgi_path/statement', { headers: { 'x-gateway-user': 'ACC 42' } })).path_info).toBe('/u/ACC 42/statement')
  })

  it('a value that is only whitespace (U+2028, a no-break space) is a 400 saying so, not "is empty"', async () => {
    for (const user of ['\u2028', '%E2%80%A8', '\u00a0']) {
      const r = await send(gw.url, '/proxy/cgi_path/statement', { headers: { 'x-gateway-user': Buffer.from(user, 'utf8').toString('latin1') } })
      expect(r.status, `${JSON.stringify(user)}: ${r.text}`).toBe(400)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^path field "who": its value is only whitespace /), code: 400 }] })
    }
  })
})
