/**
 * HAProxy 2.6 (Debian) as the upstream: `bind … ssl crt … ca-file … verify required`.
 * Unlike a Node server (which just closes the socket), HAProxy refuses a client certificate
 * with a TLS alert; the gateway must answer 502 "client certificate rejected by the
 * server" naming that alert — in TLS 1.3 (alert after the client's Finished, while the
 * request is in flight) and in TLS 1.2 (alert inside the handshake).
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send, startTestGateway, type Reply } from '../support/gateway.js'
import { startHaproxy, type Peer } from '../support/peers.js'
import { clientTls, strangerClientTls, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls

let pki: TestPki
let gw: RunningGateway
/** Trusts our root: accepts the gateway's client (when it sends its intermediate). */
let ours: Peer
/** Trusts only another CA: refuses every client certificate the gateway has. */
let foreign: Peer

function expect502(r: Reply, endpoint: string, cause: RegExp): void {
  expect(r.status, r.text).toBe(502)
  const body = r.json<{ errors: { msg: string; code: number }[] }>()
  expect(body).toEqual({ errors: [{ msg: expect.any(String), code: 502 }] })
  expect(body.errors[0]!.msg).toContain(`endpoint "${endpoint}"`)
  expect(body.errors[0]!.msg).toMatch(cause)
}

beforeAll(async () => {
  pki = await createOpensslTestPki()
  const otherRoot = await pki.issue({ subject: 'CN=Other Root CA,O=elsewhere', ca: true })
  pki.write('other-root.crt', otherRoot.pem)
  const crtPem = readFileSync(pki.file('server-chain.crt'), 'utf8') + readFileSync(pki.file('server.key'), 'utf8')
  ours = await startHaproxy({ crtPem, caFile: pki.file('root.crt') })
  foreign = await startHaproxy({ crtPem, caFile: pki.file('other-root.crt') })
  const tls = clientTls(pki)
  // A client HAProxy cannot chain: only its leaf is presented (strangerClientTls).
  const leafOnly = await strangerClientTls(pki)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
endpoints:
${endpointYaml('accepted', ours.port, tls)}${endpointYaml('no-intermediate', ours.port, leafOnly)}${endpointYaml('no-intermediate-12', ours.port, { ...leafOnly, maxVersion: 'TLSv1.2' })}${endpointYaml('foreign', foreign.port, tls)}${endpointYaml('foreign-12', foreign.port, { ...tls, maxVersion: 'TLSv1.2' })}`)
})

afterAll(async () => {
  await gw?.close()
  await ours?.stop()
  await foreign?.stop()
  pki?.cleanup()
})

describe('HAProxy with verify required', () => {
  it('accepts the gateway\'s client certificate and reports its DN', async () => {
    const r = await send(gw.url, '/proxy/accepted/hello')
    expect(r.status, r.text).toBe(200)
    expect(r.text).toBe("dn=/CN=bot-runtime/O=mtls-gateway tests verify=0")
  })

  it('TLS 1.3: a client certificate from a CA HAProxy does not trust → 502 naming the alert', async () => {
    expect502(await send(gw.url, '/proxy/foreign/x'), 'foreign', /client certificate rejected by the server \(TLS alert unknown_ca\)/)
  })

  it('TLS 1.2: the same refusal inside the handshake', async () => {
    expect502(await send(gw.url, '/proxy/foreign-12/x'), 'foreign-12', /client certificate rejected by the server \(TLS alert unknown_ca\)/)
  })

  it('a client chain HAProxy cannot build (the leaf alone, its CA unknown there) → rejected, both TLS versions', async () => {
    expect502(await send(gw.url, '/proxy/no-intermediate/x'), 'no-intermediate', /client certificate rejected by the server \(TLS alert unknown_ca\)/)
    expect502(await send(gw.url, '/proxy/no-intermediate-12/x'), 'no-intermediate-12', /client certificate rejected by the server \(TLS alert unknown_ca\)/)
  })

  it('still serves after the refusals', async () => {
    const r = await send(gw.url, '/proxy/accepted/again')
    expect(r.status).toBe(200)
  })
})
