/**
 * An intermediate CA configured as a trust anchor, real handshakes: as a server root (`roots`) it
 * anchors the servers it issued and no other server of its root (OpenSSL's partial chain, as curl
 * trusts an intermediate given as --cacert); as the end of the client chain (in `clientRoots` or
 * `roots`), it is presented with the client certificate, so a server trusting only the root still
 * builds the chain. Before: `check` accepted both, and every call failed (server "issuer unknown";
 * the client certificate refused, the intermediate never sent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send } from '../support/gateway.js'
import { startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let own: RunningServer
let other: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  // A sibling intermediate under the same root, and a server it issued for the same name.
  const sibling = await pki.issue({ subject: 'CN=Sibling Intermediate CA', issuer: pki.root, ca: true, pathLength: 0 })
  const siblingServer = await pki.issue({ subject: 'CN=api.partner.test,O=sibling', issuer: sibling, usages: ['serverAuth'], names: ['api.partner.test'] })
  const siblingFiles = pki.writePair('sibling-server', siblingServer, { chain: [sibling] })
  // Both servers require a client certificate chaining to the root, and trust nothing else.
  own = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  other = await startMtlsServer({ ...siblingFiles, ca: pki.file('root.crt') })
  const client = { cert: pki.file('client.crt'), key: pki.file('client.key') }
  const inter = pki.file('inter.crt')
  const root = pki.file('root.crt')
  const yaml = [
    endpointYaml('inter-anchor', own.port, { ...client, intermediates: inter, roots: inter }),
    endpointYaml('inter-anchor-sibling-server', other.port, { ...client, intermediates: inter, roots: inter }),
    endpointYaml('inter-as-client-root', own.port, { ...client, roots: root, clientRoots: inter }),
    endpointYaml('inter-as-root-only', own.port, { ...client, roots: inter }),
  ].join('')
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${yaml}`)
})

afterAll(async () => {
  await gw?.close()
  await own?.close()
  await other?.close()
  pki?.cleanup()
})

describe('an intermediate CA as a trust anchor', () => {
  it('in roots: anchors the servers it issued', async () => {
    const r = await send(gw.url, '/proxy/inter-anchor/x')
    expect(r.status, r.text).toBe(200)
    expect(r.json<EchoReply>().clientIssuer).toContain('CN=Test Intermediate CA')
  })

  it('in roots: a server of its root under another intermediate stays untrusted', async () => {
    const r = await send(gw.url, '/proxy/inter-anchor-sibling-server/x')
    expect(r.status, r.text).toBe(502)
    expect(r.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/server certificate untrusted/)
  })

  it('ending the client chain (clientRoots, or roots alone): presented with the client certificate, so a server trusting only the root accepts it', async () => {
    for (const endpoint of ['inter-as-client-root', 'inter-as-root-only']) {
      const r = await send(gw.url, `/proxy/${endpoint}/x`)
      expect(r.status, `${endpoint}: ${r.text}`).toBe(200)
      expect(r.json<EchoReply>().clientSubject, endpoint).toBe('CN=bot-runtime,O=mtls-gateway tests')
    }
  })
})
