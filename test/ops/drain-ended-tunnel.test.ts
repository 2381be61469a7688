/**
 * A drain's end inside an intercepted CONNECT tunnel, whose requests a second (never-listening)
 * server parses: as on a plain connection, a request pipelined in the tunnel and handed its turn
 * just as the drain ends, and one whose head completes once the drain's end has begun, are never
 * started. The first is logged `503` `drain_ended` (waited its turn, nothing written for it); the
 * second is answered `503` `drain_ended` with `Connection: close` inside the tunnel (its caller
 * reads it, TLS and all, before the tunnel closes). Neither reaches the upstream, none is
 * `caller_aborted`.
 *
 * Deterministic, as drain-ended-handover and drain-ended-arriving: the drain's end begins from an
 * answer's own 'finish' or 'close' event, or as the rest of a head arrives on the tunnel's inner
 * connection, before the gateway parses it. In-process gateway, a real TLS caller inside the
 * tunnel (Node's tls, trusting the interception CA), a real mTLS upstream.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { parseRawResponse } from '../support/raw-client.js'
import { openTunnel } from '../support/tunnel.js'
import { useDrainEndRig } from './drain-end-rig.js'
import { eventually, startOpsGateway, type OpsGateway } from './helpers.js'

/** Node's http module object, which the gateway's listener makes its servers from. */
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http')

const rig = useDrainEndRig('drain-tunnel')

const SHUTTING = 'the gateway is shutting down: a second signal ended its drain'
const WAITING = `${SHUTTING} while this request waited its turn behind another on its connection (never started: not sent upstream)`
const ARRIVING = `${SHUTTING} as this request arrived (never started: not sent upstream)`
const get = (id: string): string => `GET /${id} HTTP/1.1\r\nHost: api.partner.test:${rig.upstream.server.port}\r\nX-Request-Id: ${id}\r\n\r\n`

/** Starts a gateway, noting the HTTP servers it made: the listener makes a second one for the tunnels' inner requests. */
async function startNotingServers(tag: string, exits: number[]): Promise<{ g: OpsGateway; made: Server[] }> {
  const made: Server[] = []
  const nodeCreate = http.createServer
  http.createServer = ((...args: Parameters<typeof nodeCreate>) => {
    const server = nodeCreate(...args)
    made.push(server)
    return server
  }) as typeof nodeCreate
  try {
    return { g: await startOpsGateway(join(rig.dir, tag), rig.yaml(), { exit: (code) => void exits.push(code) }), made }
  } finally {
    http.createServer = nodeCreate
  }
}

/** A gateway with interception, a tunnel through it (the caller's TLS socket inside, the gateway's `inner`), the exit codes, and what the caller read until the tunnel closed. */
async function tunnelled(tag: string): Promise<{ g: OpsGateway; inner: Socket; tls: TLSSocket; exits: number[]; closed: Promise<Buffer> }> {
  const exits: number[] = []
  mkdirSync(join(rig.dir, tag))
  const { g, made } = await startNotingServers(tag, exits)
  // The admin listener's listens; the tunnels' never does.
  const inner = made.find((s) => s !== g.gw.server && !s.listening)
  if (!inner) throw new Error('the listener made no server for its tunnels')
  // The gateway's side of the tunnel's inner connection (its TLS socket), handed to that server as the tunnel opens.
  const innerSockets: Socket[] = []
  inner.on('connection', (s: Socket) => void innerSockets.push(s))
  const tls = await openTunnel({ gatewayPort: g.gw.port, authority: `api.partner.test:${rig.upstream.server.port}`, ca: rig.interceptionCa })
  const chunks: Buffer[] = []
  tls.on('data', (c: Buffer) => chunks.push(c))
  tls.on('error', () => {})
  const closed = new Promise<Buffer>((resolve) => tls.once('close', () => resolve(Buffer.concat(chunks))))
  const [innerSocket] = innerSockets
  if (!innerSocket) throw new Error('the tunnel\'s inner connection was not handed over')
  return { g, inner: innerSocket, tls, exits, closed }
}

/** The [status, reason, error] of each of `ids`' access lines, once each has one. */
function linesOf(g: OpsGateway, ids: string[]): Promise<unknown[][]> {
  return eventually(() => {
    const mine = ids.map((id) => g.access().find((l) => l.reqId === id))
    return !mine.includes(undefined) && mine.map((l) => [l?.status, l?.reason, l?.error])
  }, 30_000, `an access line for each of ${ids.join(', ')}`)
}

describe('a drain\'s end inside an intercepted tunnel', () => {
  for (const event of ['finish', 'close'] as const) {
    it(`a request handed its turn at the ${event} of the answer before it is 503 drain_ended (never started), nothing written for it`, async () => {
      const { g, tls, exits, closed } = await tunnelled(`handover-${event}`)
      try {
        const ids = [`${event}-first`, `${event}-second`, `${event}-third`]
        g.gw.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
          if (req.headers['x-request-id'] === ids[0]) res.on(event, () => void (g.gw.ops?.drain('SIGTERM'), g.gw.ops?.drain('SIGTERM')))
        })
        tls.write(ids.map(get).join(''))
        const answers = (await closed).toString('latin1')
        await eventually(() => exits.length > 0, 30_000, 'the cut drain to exit')
        expect(exits).toEqual([1])
        expect(answers.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200'])
        expect(await linesOf(g, ids)).toEqual([[200, undefined, undefined], [503, 'drain_ended', WAITING], [503, 'drain_ended', WAITING]])
        expect(rig.upstream.reached.filter((id) => id.startsWith(`${event}-`))).toEqual([ids[0]])
      } finally {
        await g.gw.close()
      }
    }, 120_000)
  }

  it('a request whose head completes once the drain\'s end has begun is answered 503 drain_ended with Connection: close inside the tunnel', async () => {
    const { g, inner, tls, exits, closed } = await tunnelled('arriving')
    try {
      const text = get('arriving-late')
      const split = text.indexOf('\r\n\r\n') + 2
      // The gateway's side of the tunnel's inner connection: how much of the head it has read; the drain's end, begun as the rest comes.
      const seen = { bytes: 0, endAtNext: false }
      inner.prependListener('data', (d: Buffer) => {
        if (seen.endAtNext) g.gw.ops?.drain('SIGTERM')
        seen.bytes += d.length
      })
      tls.write(text.slice(0, split))
      await eventually(() => seen.bytes === split, 30_000, 'the gateway to read the head but its final CRLF')
      g.gw.ops?.drain('SIGTERM')
      seen.endAtNext = true
      tls.write(text.slice(split))
      const answers = await closed
      await eventually(() => exits.length > 0, 30_000, 'the cut drain to exit')
      expect(exits).toEqual([1])
      expect(answers.toString('latin1').match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 503'])
      const reply = parseRawResponse(answers)
      expect([reply.status, reply.headers.connection, JSON.parse(reply.body.toString('utf8'))]).toEqual([503, 'close', { errors: [{ msg: ARRIVING, code: 503 }] }])
      expect(await linesOf(g, ['arriving-late'])).toEqual([[503, 'drain_ended', ARRIVING]])
      expect(rig.upstream.reached).not.toContain('arriving-late')
    } finally {
      await g.gw.close()
    }
  }, 120_000)
})
