/**
 * An upstream proxy (the `via` connector) that closes before answering CONNECT, or answers bytes
 * that are not HTTP: the caller gets an immediate 502 upstream_proxy_failed naming what the proxy
 * did. The exchange listened only for data, errors and its deadline: a close settled nothing, so
 * the caller got a false 504 "connect timeout" at `timeouts.connect`, and with `connect: 0` no
 * answer ever (no access line, no sample). The message names the CONNECT's target too (it named
 * only the proxy), and so does a refused connection to the proxy (it named only the proxy: the
 * target was not yet asked for, but it is what the dial was for). Raw TCP peers, each on its own port.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { getJsonWithin } from '../support/json-within.js'
import { headPeers } from '../support/head-peers.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'

/** What each peer does once it read the CONNECT head. */
const PEERS = {
  closes: (s: Socket) => s.end(),
  garbles: (s: Socket) => s.end('SSH-2.0-OpenSSH_9.6\r\n'),
  // An SSH server waits for the client's line: only the bytes themselves can end the exchange.
  garbles_waits: (s: Socket) => s.write('SSH-2.0-OpenSSH_9.6\r\n'),
} as const
type PeerKind = keyof typeof PEERS

let pki: TestPki
let g: OpsGateway
const peers = headPeers()
const ports = {} as Record<PeerKind | 'refuses', number>

function peer(kind: PeerKind): Server {
  return peers.peer((s) => PEERS[kind](s))
}

const call = (path: string): Promise<{ status: number; body: unknown }> => getJsonWithin(g.gw.url, path)

beforeAll(async () => {
  pki = await createTestPki()
  for (const kind of Object.keys(PEERS) as PeerKind[]) ports[kind] = await peers.listen(peer(kind))
  // A port nothing listens on any more.
  const gone = createServer()
  ports.refuses = await peers.listen(gone)
  await new Promise((resolve) => gone.close(resolve))
  const endpoint = (kind: PeerKind | 'refuses', connect: string): string =>
    `  - name: ${kind}-${connect}\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${ports[kind]}" }\n` +
    `    timeouts: { connect: ${connect} }\n    tls: ${clientTlsYaml(pki)}\n`
  const kinds = [...Object.keys(PEERS), 'refuses'] as (PeerKind | 'refuses')[]
  g = await startOpsGateway(pki.dir, `endpoints:\n${kinds.flatMap((k) => [endpoint(k, '5s'), endpoint(k, '0')]).join('')}`)
})

afterAll(async () => {
  await g?.gw.close()
  await peers.close()
  pki?.cleanup()
})

const WHAT: Record<PeerKind | 'refuses', string> = {
  closes: ' closed the connection before answering CONNECT api.partner.test:443',
  garbles: ' answered CONNECT api.partner.test:443 with something that is not HTTP',
  garbles_waits: ' answered CONNECT api.partner.test:443 with something that is not HTTP',
  refuses: ': connection refused (ECONNREFUSED) before CONNECT api.partner.test:443 was sent',
}

describe('a connector that ends the CONNECT exchange without an HTTP answer', () => {
  for (const kind of Object.keys(WHAT) as (PeerKind | 'refuses')[]) {
    for (const connect of ['5s', '0']) {
      const name = `${kind}-${connect}`
      it(`${name}: 502 upstream_proxy_failed naming what the proxy did, its access line and sample`, async () => {
        const msg = `endpoint "${name}": upstream proxy 127.0.0.1:${ports[kind]}${WHAT[kind]}`
        const r = await call(`/proxy/${name}/x`)
        expect(r).toEqual({ status: 502, body: { errors: [{ msg, code: 502 }] } })
        const line = await eventually(() => g.access().find((e) => e.endpoint === name), 10_000, `the access line of ${name}`)
        expect(line).toMatchObject({ status: 502, reason: 'upstream_proxy_failed', error: msg })
        expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_total', { endpoint: name, method: 'GET', status_class: '5xx' })).toBe(1)
      })
    }
  }

  it('the gateway closes its sockets to the connectors', async () => {
    await expect.poll(() => peers.open.size, { timeout: 10_000, message: 'the gateway to close its sockets to the connectors' }).toBe(0)
  })
})
