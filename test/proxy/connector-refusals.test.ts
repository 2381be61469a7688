/**
 * An upstream proxy (the `via` connector) that answers CONNECT with 407, or resets the connection:
 * the 502 says what is at fault. A 407 said only "HTTP 407", not whether via.username/via.password
 * were missing or refused; a reset kept the socket's reason (`upstream_connect_reset`, "connection
 * reset by the server") and named neither the proxy nor the CONNECT, unlike the proxy's other
 * failures (`upstream_proxy_failed`). Raw TCP peers, each on its own port.
 */
import type { Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { getJsonWithin } from '../support/json-within.js'
import { headPeers } from '../support/head-peers.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const PROXY_USER = 'connector-user'
const PROXY_PASSWORD = 'connector-password-9f3a'

/** What each peer does once it read the CONNECT head (and whether it carried credentials). */
const PEERS = {
  resets: (s: Socket) => s.resetAndDestroy(),
  asks_auth: (s: Socket) => s.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="connector"\r\nContent-Length: 0\r\n\r\n'),
} as const
type PeerKind = keyof typeof PEERS

let pki: TestPki
let g: OpsGateway
const peers = headPeers()
const ports = {} as Record<PeerKind, number>
/** The Proxy-Authorization lines each peer received, by endpoint order. */
const authorizations: (string | undefined)[] = []

function peer(kind: PeerKind): Server {
  return peers.peer((s, head) => {
    authorizations.push(/^proxy-authorization: (.*)$/im.exec(head)?.[1])
    PEERS[kind](s)
  })
}

const call = (path: string): Promise<{ status: number; body: unknown }> => getJsonWithin(g.gw.url, path)

beforeAll(async () => {
  pki = await createTestPki()
  for (const kind of Object.keys(PEERS) as PeerKind[]) ports[kind] = await peers.listen(peer(kind))
  const endpoint = (name: string, kind: PeerKind, credentials: string): string =>
    `  - name: ${name}\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${ports[kind]}"${credentials} }\n` +
    `    tls: ${clientTlsYaml(pki)}\n`
  g = await startOpsGateway(pki.dir, `endpoints:\n${[
    endpoint('resets', 'resets', ''),
    endpoint('auth-none', 'asks_auth', ''),
    endpoint('auth-refused', 'asks_auth', `, username: ${PROXY_USER}, password: ${PROXY_PASSWORD}`),
  ].join('')}`)
})

afterAll(async () => {
  await g?.gw.close()
  await peers.close()
  pki?.cleanup()
})

/** The 502's message and its access line; never the proxy credentials. */
async function expectProxyFailure(name: string, msg: string): Promise<void> {
  const r = await call(`/proxy/${name}/x`)
  expect(r).toEqual({ status: 502, body: { errors: [{ msg, code: 502 }] } })
  const line = await eventually(() => g.access().find((e) => e.endpoint === name), 10_000, `the access line of ${name}`)
  expect(line).toMatchObject({ status: 502, reason: 'upstream_proxy_failed', error: msg })
  expect(JSON.stringify(line)).not.toContain(PROXY_PASSWORD)
}

describe('a connector that resets the connection', () => {
  it('is upstream_proxy_failed naming the proxy and the CONNECT, not upstream_connect_reset', async () => {
    await expectProxyFailure('resets', `endpoint "resets": upstream proxy 127.0.0.1:${ports.resets} reset the connection before answering CONNECT api.partner.test:443 (ECONNRESET)`)
  })
})

describe('a connector that answers 407', () => {
  const refused = (name: string): string => `endpoint "${name}": upstream proxy 127.0.0.1:${ports.asks_auth} refused CONNECT api.partner.test:443: HTTP 407 Proxy Authentication Required`

  it('without via.username and via.password: says they are not configured', async () => {
    await expectProxyFailure('auth-none', `${refused('auth-none')}, and via.username and via.password are not configured: set them`)
  })

  it('with them: says the proxy refused them (sent, never quoted)', async () => {
    const before = authorizations.length
    await expectProxyFailure('auth-refused', `${refused('auth-refused')}: it refused the configured via.username and via.password`)
    expect(authorizations[before]).toBe(`Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`)
  })

  it('the gateway closes its sockets to the connectors', async () => {
    await expect.poll(() => peers.open.size, { timeout: 10_000, message: 'the gateway to close its sockets to the connectors' }).toBe(0)
  })
})
