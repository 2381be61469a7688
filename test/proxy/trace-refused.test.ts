/**
 * TRACE is never forwarded (RFC 9110 §9.3.8: a client must not send sensitive fields in a TRACE
 * request): its response echoes the request, so a backend implementing it would hand the caller
 * the credentials the gateway adds (header fields, the OAuth Authorization). 405 with Allow,
 * nothing sent upstream, on the forward proxy and in route mode, and for a POST whose
 * method-override header (X-HTTP-Method-Override and its kin) asks for TRACE; other methods pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
const seen: string[] = []

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    // What a TRACE-implementing server does: echo the request's header section.
    handler: (req, res) => {
      seen.push(req.method ?? '')
      const echo = req.rawHeaders.join('\n')
      res.writeHead(200, { 'content-type': 'message/http', 'content-length': Buffer.byteLength(echo) })
      res.end(echo)
    },
  })
  const tls = clientTls(pki)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('partner', upstream.port, tls, '    fields:\n      - { type: header, key: X-Api-Key, value: "endpoint-secret-api-key" }\n')}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('TRACE', () => {
  it.each([
    ['route mode', () => '/proxy/partner/x'],
    ['forward proxy', () => `http://api.partner.test:${upstream.port}/x`],
  ])('%s: 405 with Allow, nothing sent upstream, no credential echoed', async (_way, target) => {
    seen.length = 0
    const r = await send(gw.url, target(), { method: 'TRACE' })
    expect(r.status, r.text).toBe(405)
    expect(r.headers.allow).toMatch(/\bGET\b/)
    expect(r.headers.allow).not.toMatch(/TRACE/)
    expect(r.text).not.toContain('endpoint-secret-api-key')
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/TRACE is not forwarded/), code: 405 }] })
    expect(seen).toEqual([])
  })

  it.each([
    ['X-HTTP-Method-Override', 'TRACE'],
    ['x-http-method', 'trace'],
    ['X-Method-Override', ' Track '],
    ['X-HTTP-Method-Override', 'PATCH, TRACE'],
    // Spellings a CGI-style backend (PHP, Rack, WSGI) reads as X-HTTP-Method-Override.
    ['X_HTTP_Method_Override', 'TRACE'],
    ['x.http.method', 'TRACE'],
  ])('a POST with %s: %j is refused the same way (frameworks honour the override)', async (header, value) => {
    seen.length = 0
    const r = await send(gw.url, '/proxy/partner/x', { method: 'POST', headers: { [header]: value } })
    expect(r.status, r.text).toBe(405)
    expect(r.text).not.toContain('endpoint-secret-api-key')
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/method override to TRACE is not forwarded/), code: 405 }] })
    expect(seen).toEqual([])
  })

  it('an override to another method passes, as does a value that only contains the letters', async () => {
    for (const value of ['PATCH', 'TRACER', 'x-trace-id']) {
      seen.length = 0
      const r = await send(gw.url, '/proxy/partner/x', { method: 'POST', headers: { 'x-http-method-override': value } })
      expect(r.status, `${value}: ${r.text}`).toBe(200)
      expect(seen).toEqual(['POST'])
    }
  })

  it('other methods still pass (the field reaches the backend)', async () => {
    seen.length = 0
    const r = await send(gw.url, '/proxy/partner/x', { method: 'OPTIONS' })
    expect(r.status, r.text).toBe(200)
    expect(seen).toEqual(['OPTIONS'])
  })
})
