/**
 * `OPTIONS http://host:port` (absolute-form, no path, no query) asks about the server as a whole:
 * the last proxy must send the request-target `*` (RFC 9112 §3.2.4). The gateway sent `OPTIONS /`.
 * On the wire against a raw backend that answers with the request head it read: the forward
 * proxy (seeded fast-check over methods, host spellings and what follows the authority), an
 * intercepted tunnel's absolute-form and asterisk-form inner requests; route mode names the
 * endpoint's base URL, never the whole server, and an endpoint adding a query field keeps `/?…`.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, DEFAULT_SERVER_NAMES } from '../support/pki.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { closeScriptedRig, startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { openTunnel, rawExchange } from '../support/tunnel.js'

let gw: RunningGateway
let backend: ScriptedBackend
let dir: string
let caCert: string

beforeAll(async () => {
  const pki = await createTestPki('p256', [...DEFAULT_SERVER_NAMES, 'q.partner.test'])
  // Every answer carries the request head the backend read as its body.
  backend = await startScriptedBackend(pki, (head) => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(head, 'latin1')}\r\n\r\n${head}`)
  dir = mkdtempSync(join(tmpdir(), 'options-asterisk-'))
  const ica = await writeInterceptionCa(join(dir, 'ica'))
  caCert = ica.caCert
  const ep = (name: string, host: string, extra = ''): string => `  - name: ${name}\n    url: "https://${host}:${backend.port}"\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${ep('up', 'api.partner.test')}${ep('q', 'q.partner.test', '    fields: [{ type: query, key: k, value: gw-v }]\n')}`)
  pki.cleanup()
})

afterAll(() => closeScriptedRig({ gw, backend, dir }))

/** The request line's target the backend read, from the answer to `request` sent to the gateway. */
async function sentTarget(request: string): Promise<string> {
  const r = await rawRoundTrip(gw.port, request)
  expect(r.status, r.body.toString('latin1')).toBe(200)
  return r.body.toString('latin1').split(' ')[1] as string
}

/** The same inside an intercepted tunnel to api.partner.test. */
async function sentInTunnel(request: string): Promise<{ status: number; target: string }> {
  const authority = `api.partner.test:${backend.port}`
  const tunnel = await openTunnel({ gatewayPort: gw.port, authority, ca: readFileSync(caCert) })
  const r = await rawExchange(tunnel, request.replaceAll('{authority}', authority))
  tunnel.destroy()
  return { status: r.status, target: r.body.split(' ')[1] as string }
}

describe('OPTIONS for the whole server goes upstream as OPTIONS *', () => {
  it('the review\'s case: OPTIONS http://host:port is sent as OPTIONS *; with a "/" it stays "/"', async () => {
    const authority = `api.partner.test:${backend.port}`
    expect(await sentTarget(`OPTIONS http://${authority} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)).toBe('*')
    expect(await sentTarget(`OPTIONS http://${authority}/ HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)).toBe('/')
  })

  it('forward proxy: the target is "*" exactly for an OPTIONS with no path and no query (seeded, 60 cases)', async () => {
    const tails: Record<string, string> = { '': '/', '/': '/', '?a=1': '/?a=1', '/x': '/x', '/x?': '/x' }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('OPTIONS', 'GET', 'DELETE', 'OPTIONS'),
        fc.constantFrom('http', 'HTTP', 'https'),
        fc.constantFrom('api.partner.test', 'API.Partner.TEST', 'api.partner.test.'),
        fc.constantFrom(...Object.keys(tails)),
        async (method, scheme, host, tail) => {
          const authority = `${host}:${backend.port}`
          const target = await sentTarget(`${method} ${scheme}://${authority}${tail} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
          expect(target).toBe(method === 'OPTIONS' && tail === '' ? '*' : tails[tail])
        },
      ),
      { seed: 20261205, numRuns: 60 },
    )
  }, 120_000)

  it('an endpoint that adds a query field keeps its query: OPTIONS /?k=… (the credential travels)', async () => {
    const authority = `q.partner.test:${backend.port}`
    expect(await sentTarget(`OPTIONS http://${authority} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)).toBe('/?k=gw-v')
  })

  it('route mode names the endpoint\'s base URL, not the server: OPTIONS /proxy/up goes as OPTIONS /', async () => {
    expect(await sentTarget(`OPTIONS /proxy/up HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`)).toBe('/')
  })

  it('inside a tunnel: absolute-form with no path and asterisk-form go as "*"; "*" with another method is a 400', async () => {
    expect(await sentInTunnel('OPTIONS https://{authority} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n')).toEqual({ status: 200, target: '*' })
    expect(await sentInTunnel('OPTIONS * HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n')).toEqual({ status: 200, target: '*' })
    expect(await sentInTunnel('OPTIONS / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n')).toEqual({ status: 200, target: '/' })
    expect((await sentInTunnel('GET * HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n')).status).toBe(400)
  })
})
