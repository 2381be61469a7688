/**
 * An upstream proxy (the `via` connector) that stays silent past `timeouts.connect`: the 504
 * upstream_timeout names the proxy, the CONNECT's target and where the exchange stood — the proxy
 * never took the TCP connection (its accept queue full), took it and never answered the CONNECT,
 * answered part of a head, or answered 200 and then nothing came through the tunnel (no TLS
 * handshake). It said `endpoint "x": connect timeout` for all four, naming neither. Raw TCP peers
 * on 127.0.0.1, each on its own port; the gateway closes its sockets to them.
 */
import type { Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { getJsonWithin } from '../support/json-within.js'
import { headPeers } from '../support/head-peers.js'
import { startSilentListener, type SilentListener } from '../support/c-silent-listener.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

/** What each peer does once it read the CONNECT head. */
const PEERS = {
  silent: (_s: Socket) => undefined,
  half_head: (s: Socket) => void s.write('HTTP/1.1 200 Connection est'),
  tunnel_silent: (s: Socket) => void s.write('HTTP/1.1 200 Connection established\r\n\r\n'),
} as const
type PeerKind = keyof typeof PEERS

let pki: TestPki
let g: OpsGateway
let unaccepting: SilentListener
const peers = headPeers()
const ports = {} as Record<PeerKind | 'unaccepting', number>

function peer(kind: PeerKind): Server {
  return peers.peer((s) => PEERS[kind](s))
}

beforeAll(async () => {
  pki = await createTestPki()
  for (const kind of Object.keys(PEERS) as PeerKind[]) ports[kind] = await peers.listen(peer(kind))
  unaccepting = await startSilentListener()
  ports.unaccepting = unaccepting.port
  const endpoint = (kind: PeerKind | 'unaccepting'): string =>
    `  - name: ${kind}\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${ports[kind]}" }\n` +
    `    timeouts: { connect: 500ms }\n    tls: ${clientTlsYaml(pki)}\n`
  g = await startOpsGateway(pki.dir, `endpoints:\n${(['unaccepting', ...Object.keys(PEERS)] as (PeerKind | 'unaccepting')[]).map(endpoint).join('')}`)
}, 60_000)

afterAll(async () => {
  await g?.gw.close()
  await peers.close()
  await unaccepting?.close()
  pki?.cleanup()
})

const WHERE: Record<PeerKind | 'unaccepting', string> = {
  unaccepting: 'CONNECT api.partner.test:443 not sent: no connection to it within 0.5 s (timeouts.connect)',
  silent: 'no answer to CONNECT api.partner.test:443 within 0.5 s (timeouts.connect)',
  half_head: 'its answer to CONNECT api.partner.test:443 did not end within 0.5 s (timeouts.connect)',
  tunnel_silent: 'no TLS handshake through its tunnel to api.partner.test:443 within 0.5 s (timeouts.connect)',
}

describe('a connector silent past timeouts.connect', () => {
  for (const kind of Object.keys(WHERE) as (PeerKind | 'unaccepting')[]) {
    it(`${kind}: 504 upstream_timeout naming the proxy, the CONNECT's target and where it stood`, async () => {
      const msg = `endpoint "${kind}": upstream proxy 127.0.0.1:${ports[kind]}: connect timeout: ${WHERE[kind]}`
      const r = await getJsonWithin(g.gw.url, `/proxy/${kind}/x`)
      expect(r).toEqual({ status: 504, body: { errors: [{ msg, code: 504 }] } })
      const line = await eventually(() => g.access().find((e) => e.endpoint === kind), 10_000, `the access line of ${kind}`)
      expect(line).toMatchObject({ status: 504, reason: 'upstream_timeout', error: msg })
    }, 60_000)
  }

  it('the gateway closes its sockets to the connectors and gives up the unanswered dial', async () => {
    await eventually(() => peers.open.size === 0, 10_000, 'the gateway to close its sockets to the connectors')
    await eventually(() => unaccepting.dialling() === 0, 10_000, 'the gateway to give up its dial to the proxy that never accepts')
  })
})
