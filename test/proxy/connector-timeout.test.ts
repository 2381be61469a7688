/**
 * An upstream proxy (the `via` connector) that stays silent past `timeouts.connect`: the 504
 * upstream_timeout names the proxy, the CONNECT's target and where the exchange stood — the proxy
 * never took the TCP connection (its accept queue full), took it and never answered the CONNECT,
 * answered part of a head, or answered 200 and then nothing came through the tunnel (no TLS
 * handshake). It said `endpoint "x": connect timeout` for all four, naming neither. Raw TCP peers
 * on 127.0.0.1, each on its own port; the gateway closes its sockets to them.
 *
 * The gateway and the peers share this process, so a stall of the process (a loaded machine)
 * delays a peer's answer and the gateway's reading of it alike. The stage is what the gateway
 * had read when the deadline passed, so the deadline is long (10 s) and each peer, acting on the
 * CONNECT head it read, first stalls the process for longer than the 500 ms deadline this test
 * used (which then named an earlier stage than the peer reached); each peer records what it did,
 * and the message must name that stage. The four exchanges run at once: one deadline of waiting.
 */
import type { Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { getJsonWithin } from '../support/json-within.js'
import { headPeers } from '../support/head-peers.js'
import { startSilentListener, type SilentListener } from '../support/c-silent-listener.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

/** Longer than the deadline this test had (500 ms): a stall of the process as a loaded machine gives one. */
const STALL_MS = 700

/** Blocks this process (the gateway's event loop with it) for STALL_MS. */
function stall(): void {
  const until = Date.now() + STALL_MS
  while (Date.now() < until) {
    // busy: nothing else of the process runs
  }
}

/** Where the exchange stands once a peer has acted, as the gateway names it. */
type Stage = 'not_sent' | 'no_answer' | 'part_of_head' | 'no_handshake'

/** What each peer does once it read the CONNECT head, and the stage that leaves the exchange at. */
const PEERS = {
  silent: { stage: 'no_answer', act: (_s: Socket) => undefined },
  half_head: { stage: 'part_of_head', act: (s: Socket) => void s.write('HTTP/1.1 200 Connection est') },
  tunnel_silent: { stage: 'no_handshake', act: (s: Socket) => void s.write('HTTP/1.1 200 Connection established\r\n\r\n') },
} as const satisfies Record<string, { stage: Stage; act: (s: Socket) => void }>
type PeerKind = keyof typeof PEERS
type Kind = PeerKind | 'unaccepting'

let pki: TestPki
let g: OpsGateway
let unaccepting: SilentListener
const peers = headPeers()
const ports = {} as Record<Kind, number>
/** The stage each peer left its exchange at, recorded once it acted (the proxy that never accepts acts on nothing). */
const reached: Partial<Record<Kind, Stage>> = { unaccepting: 'not_sent' }
/** Each kind's answer, all requested at once. */
const answers = {} as Record<Kind, Promise<{ status: number; body: unknown } | Error>>

function peer(kind: PeerKind): Server {
  return peers.peer((s) => {
    stall()
    PEERS[kind].act(s)
    reached[kind] = PEERS[kind].stage
  })
}

const KINDS: Kind[] = ['unaccepting', ...(Object.keys(PEERS) as PeerKind[])]

beforeAll(async () => {
  pki = await createTestPki()
  for (const kind of Object.keys(PEERS) as PeerKind[]) ports[kind] = await peers.listen(peer(kind))
  unaccepting = await startSilentListener()
  ports.unaccepting = unaccepting.port
  const endpoint = (kind: Kind): string =>
    `  - name: ${kind}\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${ports[kind]}" }\n` +
    `    timeouts: { connect: 10s }\n    tls: ${clientTlsYaml(pki)}\n`
  g = await startOpsGateway(pki.dir, `endpoints:\n${KINDS.map(endpoint).join('')}`)
  for (const kind of KINDS) answers[kind] = getJsonWithin(g.gw.url, `/proxy/${kind}/x`).catch((e: Error) => e)
})

afterAll(async () => {
  await Promise.all(Object.values(answers))
  await g?.gw.close()
  await peers.close()
  await unaccepting?.close()
  pki?.cleanup()
})

const WHERE: Record<Stage, string> = {
  not_sent: 'CONNECT api.partner.test:443 not sent: no connection to it within 10 s (timeouts.connect)',
  no_answer: 'no answer to CONNECT api.partner.test:443 within 10 s (timeouts.connect)',
  part_of_head: 'its answer to CONNECT api.partner.test:443 did not end within 10 s (timeouts.connect)',
  no_handshake: 'no TLS handshake through its tunnel to api.partner.test:443 within 10 s (timeouts.connect)',
}

describe('a connector silent past timeouts.connect', () => {
  for (const kind of KINDS) {
    it(`${kind}: 504 upstream_timeout naming the proxy, the CONNECT's target and where it stood`, async () => {
      const r = await answers[kind]
      // The peer did what it was made to before the deadline passed: the message names the stage it left the exchange at.
      const stage = reached[kind] as Stage
      expect(stage).toBe(kind === 'unaccepting' ? 'not_sent' : PEERS[kind].stage)
      const msg = `endpoint "${kind}": upstream proxy 127.0.0.1:${ports[kind]}: connect timeout: ${WHERE[stage]}`
      expect(r).toEqual({ status: 504, body: { errors: [{ msg, code: 504 }] } })
      const line = await eventually(() => g.access().find((e) => e.endpoint === kind), 10_000, `the access line of ${kind}`)
      expect(line).toMatchObject({ status: 504, reason: 'upstream_timeout', error: msg })
    })
  }

  it('the gateway closes its sockets to the connectors and gives up the unanswered dial', async () => {
    await expect.poll(() => peers.open.size, { timeout: 10_000, message: 'the gateway to close its sockets to the connectors' }).toBe(0)
    await expect.poll(() => unaccepting.dialling(), { timeout: 10_000, message: 'the gateway to give up its dial to the proxy that never accepts' }).toBe(0)
  })
})
