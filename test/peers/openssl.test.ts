/**
 * `openssl s_server -Verify 2 -verify_return_error -www` as the upstream: OpenSSL's own
 * server, requiring a client certificate (verify errors abort the handshake with an alert)
 * and sending its intermediate (`-cert_chain`). Its -www status page shows the client
 * certificate it verified.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { startOpensslServer, type Peer } from '../support/peers.js'
import { clientTls, strangerClientTls, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls

let pki: TestPki
let gw: RunningGateway
let sServer: Peer

beforeAll(async () => {
  pki = await createOpensslTestPki()
  sServer = await startOpensslServer({ cert: pki.file('server.crt'), key: pki.file('server.key'), chain: pki.file('inter.crt'), caFile: pki.file('root.crt') })
  const full = clientTls(pki)
  // A client s_server cannot chain: only its leaf is presented (strangerClientTls).
  const leafOnly = await strangerClientTls(pki)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
endpoints:
${endpointYaml('s-server', sServer.port, full)}${endpointYaml('s-server-12', sServer.port, { ...full, maxVersion: 'TLSv1.2' })}${endpointYaml('s-server-leaf-only', sServer.port, leafOnly)}`)
})

afterAll(async () => {
  await gw?.close()
  await sServer?.stop()
  pki?.cleanup()
})

describe('openssl s_server -Verify 2 -verify_return_error -www', () => {
  it('the gateway call succeeds (TLS 1.3) and the status page shows the client certificate subject', async () => {
    const r = await send(gw.url, '/proxy/s-server/')
    expect(r.status, r.text).toBe(200)
    expect(r.text).toMatch(/Protocol\s*: TLSv1\.3/)
    expect(r.text).toContain('Client certificate')
    expect(r.text).toMatch(/Subject: CN\s?=\s?bot-runtime, O\s?=\s?mtls-gateway tests/)
    expect(r.text).toMatch(/Issuer: CN\s?=\s?Test Intermediate CA/)
  })

  it('and over TLS 1.2', async () => {
    const r = await send(gw.url, '/proxy/s-server-12/')
    expect(r.status, r.text).toBe(200)
    expect(r.text).toMatch(/Protocol\s*: TLSv1\.2/)
    expect(r.text).toMatch(/Subject: CN\s?=\s?bot-runtime, O\s?=\s?mtls-gateway tests/)
  })

  it('a client chain s_server cannot build (the leaf alone, its CA unknown there) is refused with an alert, which the gateway names', async () => {
    const r = await send(gw.url, '/proxy/s-server-leaf-only/')
    expect(r.status, r.text).toBe(502)
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/^endpoint "s-server-leaf-only": client certificate rejected by the server \(TLS alert unknown_ca\)/), code: 502 }] })
    // s_server keeps serving after a failed handshake.
    expect((await send(gw.url, '/proxy/s-server/')).status).toBe(200)
  })
})
