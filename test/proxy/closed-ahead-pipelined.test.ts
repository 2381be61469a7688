/**
 * Requests pipelined behind an answer the gateway sent with `Connection: close` (a 413, a Host
 * refusal, a transfer coding it does not read) are never served: the connection closes after that
 * answer. Each still has its own access line, and it says what happened to it: the answer before
 * it closed the connection, so it never started and was not sent upstream. Before, each was
 * `499` `caller_aborted`, though the caller had done nothing: the gateway closed. So were requests behind
 * an answer the gateway cut (its upstream closed the connection partway through the body): the
 * gateway destroyed the caller's connection, and they are `connection_closed_ahead` too.
 *
 * A raw TCP caller pipelining three requests on one connection, a real mTLS upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let dir: string
/** Request ids the upstream received. */
const reached: string[] = []
/** Responses the upstream holds (requests whose path says `hold`) until the test releases them. */
const held: ServerResponse[] = []

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-closed-ahead-'))
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    reached.push(String(req.headers['x-request-id']))
    if (req.url?.includes('hold')) held.push(res)
    // Content-Length: 100, 10 bytes, then the connection closed (no close_notify): the gateway relays the head and the 10 bytes, then cuts the caller's connection.
    else if (req.url?.includes('cut')) res.writeHead(200, { 'content-length': '100' }).write('0123456789', () => res.socket?.destroy())
    else res.end('ok')
  }
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`, { exit: () => {} })
})

afterAll(async () => {
  held.splice(0).forEach((res) => res.destroy())
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const get = (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`
const body = 'x'.repeat(70_000)
const closedBy = (status: number): string => `not started: the answer to the request before it on its connection (${status}) closed the connection, so it was never served: not sent upstream, not answered; send it again on a new connection`

/** The access lines of `ids`, once each has one. */
function linesOf(ids: string[]): Promise<Record<string, unknown>[]> {
  return eventually(() => {
    const mine = g.access().filter((e) => ids.includes(String(e.reqId)))
    return mine.length === ids.length && ids.map((id) => mine.find((l) => l.reqId === id) as Record<string, unknown>)
  }, 30_000, `an access line for each of ${ids.join(', ')}`)
}

describe.each([
  { answer: '413 (a gateway API body over its limit, sent whole)', status: 413, reason: 'body_too_large', first: (id: string): string => `POST /gateway/token HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` },
  { answer: '400 (a Host that is no host[:port])', status: 400, reason: 'bad_request', first: (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: a b\r\nX-Request-Id: ${id}\r\n\r\n` },
  { answer: '501 (Transfer-Encoding: gzip)', status: 501, reason: 'transfer_coding_not_implemented', first: (id: string): string => `POST /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n` },
])('three requests pipelined, the first answered $answer with Connection: close', ({ status, reason, first }) => {
  it('one answer, then the connection closes; the two behind it have lines of their own saying they never started (not caller_aborted), and reach no upstream', async () => {
    const tag = `${status}-${Date.now()}`
    const ids = [`${tag}-first`, `${tag}-second`, `${tag}-third`]
    const c = await rawClient(g.gw.port)
    c.socket.write(first(ids[0] as string) + get(ids[1] as string) + get(ids[2] as string))
    await c.closed(30_000)
    const received = c.received().toString('latin1')
    expect(received.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    const reply = parseRawResponse(c.received())
    expect([reply.status, reply.headers.connection]).toEqual([status, 'close'])
    const [firstLine, ...behind] = await linesOf(ids)
    expect([firstLine?.status, firstLine?.reason]).toEqual([status, reason])
    expect(behind.map((l) => [l.status, l.reason, l.error])).toEqual(Array(2).fill([444, 'connection_closed_ahead', closedBy(status)]))
    expect(reached.filter((id) => ids.includes(id))).toEqual([])
  })
})

describe("three requests pipelined, the first one's answer cut by the gateway (its upstream sent 10 of 100 bytes, then closed)", () => {
  it('the first is logged upstream_response_truncated and its connection cut; the two behind it are connection_closed_ahead (the gateway cut it, not the caller), not sent upstream', async () => {
    const ids = ['cut-first', 'cut-second', 'cut-third']
    const c = await rawClient(g.gw.port)
    c.socket.write(ids.map(get).join(''))
    await c.closed(30_000)
    const received = c.received().toString('latin1')
    expect(received.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    expect(received.endsWith('\r\n\r\n0123456789'), received).toBe(true)
    const [first, ...behind] = await linesOf(ids)
    expect([first?.reason, first?.error]).toEqual(['upstream_response_truncated', expect.stringContaining('response cut short')])
    const cut = 'not started: the gateway cut the connection in its answer to the request before it on the connection (200, upstream_response_truncated), so it was never served: not sent upstream, not answered; send it again on a new connection'
    expect(behind.map((l) => [l.status, l.reason, l.error])).toEqual(Array(2).fill([444, 'connection_closed_ahead', cut]))
    expect(reached.filter((id) => ids.includes(id))).toEqual(['cut-first'])
  })
})

// Last: it drains the gateway.
describe('three requests pipelined while the gateway drains', () => {
  it('the first is answered with Connection: close (the drain asks callers to go elsewhere); the two behind it are connection_closed_ahead, not sent upstream', async () => {
    const ids = ['drain-hold', 'drain-second', 'drain-third']
    const c = await rawClient(g.gw.port)
    c.socket.write(ids.map(get).join(''))
    await eventually(() => held.length === 1, 30_000, 'the upstream to hold the first request')
    g.gw.ops?.drain('SIGTERM')
    held.splice(0).forEach((res) => res.end('ok'))
    await c.closed(30_000)
    const reply = parseRawResponse(c.received())
    expect([reply.status, reply.headers.connection, c.received().toString('latin1').match(/HTTP\/1\.1 /g)?.length]).toEqual([200, 'close', 1])
    const [, ...behind] = await linesOf(ids)
    expect(behind.map((l) => [l.status, l.reason, l.error])).toEqual(Array(2).fill([444, 'connection_closed_ahead', closedBy(200)]))
    expect(reached.filter((id) => ids.includes(id))).toEqual(['drain-hold'])
  })
})
