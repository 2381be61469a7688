/**
 * A backend's `Alt-Svc` (RFC 7838) is not relayed, in route mode, through the forward proxy and inside
 * an intercepted CONNECT tunnel: the gateway is the caller's only way to the backend, and a caller
 * honouring it (a browser, curl's alt-svc cache) would try the alternative (HTTP/3 to the backend
 * itself, or QUIC to the gateway's host, which speaks none) around the gateway. The rest of the
 * backend's head reaches the caller as sent. A real mTLS backend answers with Alt-Svc on two lines.
 */
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { TunnelAgent } from '../support/tunnel.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let ca: Buffer

function backend(_req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('alt-svc', [`h3=":443"; ma=86400`, `h3="api.partner.test:8443"; ma=3600, h2=":443"`])
  res.setHeader('x-kept', 'yes')
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 })
  res.end('ok')
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: backend })
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('a backend\'s Alt-Svc', () => {
  it('is not relayed in route mode; the rest of its head is', async () => {
    const r = await send(gw.url, '/proxy/partner/x')
    expect([r.status, r.text, r.headers['x-kept']]).toEqual([200, 'ok', 'yes'])
    expect(r.headers).not.toHaveProperty('alt-svc')
  })

  it('nor through the forward proxy', async () => {
    const r = await send(gw.url, `http://api.partner.test:${upstream.port}/x`)
    expect([r.status, r.headers['x-kept']]).toEqual([200, 'yes'])
    expect(r.headers).not.toHaveProperty('alt-svc')
  })

  it('nor inside an intercepted CONNECT tunnel', async () => {
    const agent = new TunnelAgent({ gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${upstream.port}`, ca })
    try {
      const headers = await new Promise<IncomingMessage['headers']>((resolve, reject) => {
        httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path: '/x' }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.headers))
        }).on('error', reject).end()
      })
      expect(headers['x-kept']).toBe('yes')
      expect(headers).not.toHaveProperty('alt-svc')
    } finally {
      agent.destroy()
    }
  })
})
