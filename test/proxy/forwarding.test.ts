import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createPipeline } from '../../src/proxy/default-pipeline.js'
import { stepNames } from '../../src/proxy/pipeline.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createOpensslTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = clientTls(pki)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}${endpointYaml('scoped', upstream.port, tls, '    pathPrefix: /only\n    hosts: [scoped.partner.test]\n')}${endpointYaml('encoded', upstream.port, tls, '    pathPrefix: /a%5Eb\n    hosts: [encoded.partner.test]\n')}`)
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('forwarding', () => {
  it('pins the step order of the pipeline', () => {
    expect(stepNames(createPipeline())).toEqual(['route', 'admit', 'strip_hop_by_hop', 'strip_gateway_credentials', 'forwarding_headers', 'resolve_token', 'apply_authorization', 'sign_oauth1', 'forward', 'strip_hop_by_hop', 'response_via'])
  })

  it('forward proxy (absolute-form) reaches the endpoint over mTLS with the client certificate', async () => {
    const r = await send(gw.url, `http://api.partner.test:${upstream.port}/v1/x?a=1`)
    expect(r.status).toBe(200)
    const echo = r.json<EchoReply>()
    expect(echo.url).toBe('/v1/x?a=1')
    expect(echo.clientSubject).toContain('CN=bot-runtime')
    expect(echo.headers.host).toBe(`api.partner.test:${upstream.port}`)
  })

  it('route mode forwards /proxy/<endpoint>/<path> to base URL + path', async () => {
    const r = await send(gw.url, '/proxy/partner/v2/items?q=%20x', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
    expect(r.status).toBe(200)
    const echo = r.json<EchoReply>()
    expect(echo).toMatchObject({ method: 'POST', url: '/v2/items?q=%20x', body: '{"a":1}' })
  })

  it('removes hop-by-hop headers, including those named by Connection, and adds Via', async () => {
    const r = await send(gw.url, `http://api.partner.test:${upstream.port}/h`, {
      headers: {
        connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5', te: 'trailers', 'proxy-authorization': 'Bearer abc', 'proxy-connection': 'keep-alive', 'x-kept': 'yes', 'x-forwarded-for': '10.9.8.7', forwarded: 'for=10.9.8.7', 'x-real-ip': '10.9.8.7',
        // What a CGI-style backend reads as HTTP_PROXY (httpoxy: the proxy its own calls take) and as the stripped names.
        proxy: 'http://attacker.example:3128', Proxy_Authorization: 'Basic Zm9vOmJhcg==', 'Proxy.Connection': 'keep-alive', Keep_Alive: 'timeout=5',
      },
    })
    const h = r.json<EchoReply>().headers
    // forwarding.xForwardedFor off: no client address in any spelling, the caller's included.
    for (const name of ['x-secret-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'forwarded', 'x-real-ip', 'proxy', 'proxy_authorization', 'proxy.connection', 'keep_alive']) expect(h[name]).toBeUndefined()
    expect(h['x-kept']).toBe('yes')
    expect(h.via).toBe('1.1 mtls-gateway')
    expect(h['x-forwarded-for']).toBeUndefined()
    expect(r.headers.via).toBe('1.1 mtls-gateway')
    expect(r.headers['x-upstream']).toBe('echo')
  })

  it('takes X-Request-Id from the caller or sets one, both ways', async () => {
    const given = await send(gw.url, '/proxy/partner/id', { headers: { 'x-request-id': 'req-123' } })
    expect(given.headers['x-request-id']).toBe('req-123')
    expect(given.json<EchoReply>().headers['x-request-id']).toBe('req-123')
    const made = await send(gw.url, '/proxy/partner/id')
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    // A Connection header naming it removes the caller's own headers, not the gateway's id.
    const named = await send(gw.url, '/proxy/partner/id', { headers: { connection: 'X-Request-Id, x-extra', 'x-extra': 'gone' } })
    const seen = named.json<EchoReply>().headers
    expect(named.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(seen['x-request-id']).toBe(named.headers['x-request-id'])
    expect(seen['x-extra']).toBeUndefined()
  })

  it('is never an open proxy: unknown hosts, ports, endpoints and prefixes get 403 JSON', async () => {
    for (const target of ['http://example.com/', `http://api.partner.test:${upstream.port + 1}/`, `http://scoped.partner.test/elsewhere`]) {
      const r = await send(gw.url, target)
      expect(r.status, target).toBe(403)
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringContaining('not configured'), code: 403 }] })
    }
    const named = await send(gw.url, '/proxy/nope/x')
    expect(named.status).toBe(403)
    expect(named.json()).toEqual({ errors: [{ msg: 'endpoint "nope" is not configured', code: 403 }] })
  })

  it('a path prefix written as a URL carries it matches that spelling, and the call goes out', async () => {
    const r = await send(gw.url, 'http://encoded.partner.test/a%5Eb/thing')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>().url).toBe('/a%5Eb/thing')
  })

  it('matches extra hosts with a path prefix', async () => {
    // scoped.partner.test is an extra name of the "scoped" endpoint (implicit port → 443);
    // the call goes to the endpoint's own URL origin.
    const r = await send(gw.url, 'http://scoped.partner.test/only/thing')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().url).toBe('/only/thing')
  })

  it('answers unknown gateway paths with a 404 JSON error', async () => {
    const r = await send(gw.url, '/nothing-here')
    expect(r.status).toBe(404)
    expect(r.json<{ errors: { code: number }[] }>().errors[0]?.code).toBe(404)
  })

  it('reuses pooled upstream connections (keep-alive) across requests', async () => {
    const before = upstream.stats.handshakes
    for (let i = 0; i < 20; i++) expect((await send(gw.url, '/proxy/partner/k')).status).toBe(200)
    expect(upstream.stats.handshakes - before).toBeLessThanOrEqual(1)
  })
})
