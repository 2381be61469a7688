/**
 * A path rule in a front proxy does not bound the endpoint when the front proxy passes an
 * absolute-form target on: HAProxy 2.6 forwards `GET http://internal.host/proxy/up/x` as written
 * (its `path` is `/proxy/up/x`, so a `path_beg /proxy/up/` rule admits it), and the gateway, one
 * listener for every way in, serves an absolute-form target as a forward proxy: the endpoint is
 * the one the authority names, not `up`. nginx's proxy_pass sends origin-form, and HAProxy's
 * `http-request set-uri %[pathq]` (docs/deploy.md) makes it so too: then the path decides. With
 * `listen.waysIn: [route, api]` the gateway refuses the absolute-form target itself (403 way_in_disabled).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startFramingRecorder, type FramingRecorder } from '../support/framing-recorder.js'
import { startHaproxyInFront, startNginxInFront } from '../support/front-proxies.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import type { Peer } from '../support/peers.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'

let pki: TestPki
let gw: RunningGateway
let backend: FramingRecorder
let dir: string
const peers: Peer[] = []
/** Only `/proxy/up/` passes the front proxies' path rule. */
const PATH_RULE = ['http-request deny unless { path_beg /proxy/up/ }']

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startFramingRecorder(pki)
  dir = mkdtempSync(join(tmpdir(), 'front-absolute-'))
  // Two endpoints on one backend: `up` (published) and `internal` (reached at localhost, not published).
  const internal = endpointYaml('internal', backend.port, clientTls(pki)).replace('api.partner.test', 'localhost')
  const up = endpointYaml('up', backend.port, clientTls(pki)).replace(`:${backend.port}\n`, `:${backend.port}/up\n`)
  gw = await startTestGateway(dir, `admin: { enabled: false }\nendpoints:\n${up}${internal}`)
})

afterAll(async () => {
  for (const p of peers) await p.stop()
  await gw?.close()
  await backend?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

/** Sends `head` through `port` and returns the targets the backend saw for it. */
async function reached(port: number, head: string): Promise<string[]> {
  const before = backend.requests.length
  const c = await rawClient(port)
  c.socket.write(head)
  await c.closed(15_000)
  return backend.requests.slice(before).map((r) => r.target)
}

describe('an absolute-form target through a front proxy with a path rule', () => {
  it('HAProxy as configured by default passes it on: the authority picks the endpoint (forward proxy)', async () => {
    const haproxy = await startHaproxyInFront(Number(new URL(gw.url).port), PATH_RULE)
    peers.push(haproxy)
    const authority = `localhost:${backend.port}`
    expect(await reached(haproxy.port, `GET http://${authority}/proxy/up/x HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)).toEqual(['/proxy/up/x'])
    expect(await reached(haproxy.port, `GET /proxy/up/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).toEqual(['/up/x'])
  })

  it('with `http-request set-uri %[pathq]`, and through nginx, the path decides (route mode)', async () => {
    const port = Number(new URL(gw.url).port)
    const haproxy = await startHaproxyInFront(port, [...PATH_RULE, 'http-request set-uri %[pathq]'])
    const nginx = await startNginxInFront(port)
    peers.push(haproxy, nginx)
    const authority = `localhost:${backend.port}`
    for (const front of [haproxy, nginx]) {
      expect(await reached(front.port, `GET http://${authority}/proxy/up/x?a=1 HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)).toEqual(['/up/x?a=1'])
      expect(await reached(front.port, `GET /proxy/up/y HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).toEqual(['/up/y'])
    }
  })

  it('with listen.waysIn [route, api] behind HAProxy as configured by default, the absolute-form target is 403 way_in_disabled and reaches nothing', async () => {
    const at = mkdtempSync(join(dir, 'route-only-'))
    const up = endpointYaml('up', backend.port, clientTls(pki)).replace(`:${backend.port}\n`, `:${backend.port}/up\n`)
    const internal = endpointYaml('internal', backend.port, clientTls(pki)).replace('api.partner.test', 'localhost')
    const routeOnly = await startTestGateway(at, `listen: { waysIn: [route, api] }\nadmin: { enabled: false }\nendpoints:\n${up}${internal}`)
    try {
      const haproxy = await startHaproxyInFront(routeOnly.port, PATH_RULE)
      peers.push(haproxy)
      const authority = `localhost:${backend.port}`
      const before = backend.requests.length
      const c = await rawClient(haproxy.port)
      c.socket.write(`GET http://${authority}/proxy/up/x HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
      await c.closed(15_000)
      const answer = parseRawResponse(c.received())
      expect(answer.status).toBe(403)
      expect(Number(answer.headers['content-length'])).toBe(answer.body.length)
      expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ errors: [{ msg: 'the forward proxy (an absolute-form request target) is not served on this listener: add "forward" to listen.waysIn to serve it', code: 403 }] })
      expect(backend.requests.length).toBe(before)
      expect(await reached(haproxy.port, `GET /proxy/up/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).toEqual(['/up/x'])
    } finally {
      await routeOnly.close()
    }
  })
})
