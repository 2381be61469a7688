/**
 * Requests a caller pipelines after one refused `503` `too_many_pipelined` are never served: the
 * connection closes after that refusal. Those Node's parser read after the refusal's answer had
 * closed the connection (it lingers, discarding what the caller still sends) were logged `499`
 * `caller_aborted`, the caller having done nothing: the refusal does not hold the connection's
 * turn, so nothing marked the connection closed by the gateway; a `CONNECT` read there was even
 * served, admitted and answered `200` on the closed connection. Now every request after the
 * refusal, read before or after its answer closed the connection, is refused the same way: its own
 * line, `503` `too_many_pipelined`, saying it never started and was not sent upstream; nothing is
 * written for it.
 *
 * A raw TCP caller pipelining MAX_WAITING + 3 requests (the first held by a real mTLS upstream
 * until all are read), then more once it has read the gateway's FIN, which it does not answer with its own.
 * And a CONNECT pipelined right behind the refused request, in the same write: the caller reads the
 * answers before the refusal, the refusal, then the connection closes; the CONNECT is not served (no
 * tunnel, nothing written for it), its access line `503` `too_many_pipelined` (a test of its own: the
 * case was pinned only as the CONNECT written after the FIN).
 */
import type { IncomingMessage } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_WAITING } from '../../src/proxy/pipelined.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { startHoldingUpstream, type HoldingUpstream } from '../support/holding-upstream.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let upstream: HoldingUpstream
let g: OpsGateway
let dir: string
/** Request ids the gateway has read (its 'request' events). */
const read = new Set<string>()
/** CONNECTs the gateway has read (its 'connect' events). */
let connectsSeen = 0

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-after-refusal-'))
  const ca = await writeInterceptionCa(join(dir, 'ica'))
  upstream = await startHoldingUpstream(pki)
  const interception = `interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\n`
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\n${interception}endpoints:\n${endpointYaml('partner', upstream.server.port, clientTls(pki))}`)
  g.gw.server.on('request', (req: IncomingMessage) => read.add(String(req.headers['x-request-id'])))
  g.gw.server.on('connect', () => void connectsSeen++)
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const get = (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`
/** A CONNECT to the endpoint's host: an intercepted tunnel, served where it may be. */
const connect = (): string => `CONNECT api.partner.test:${upstream.server.port} HTTP/1.1\r\nHost: api.partner.test:${upstream.server.port}\r\n\r\n`
const REFUSED = `more than ${MAX_WAITING} requests pipelined on one connection wait for an answer: this one is refused and the connection closes after the answers before it (send them on several connections, or wait for answers)`
const BEHIND = `not started: a request before it on its connection was refused for pipelining more than ${MAX_WAITING} requests behind an unanswered one, and the connection closes after that refusal: not sent upstream, not answered; send it again on a new connection`

/** The access lines of `ids` (request ids) and of `connects` CONNECTs after `before` lines, once there are that many. */
function linesOf(ids: string[], connects = 0, before = 0): Promise<{ requests: unknown[][]; connects: unknown[][] }> {
  return eventually(() => {
    const all = g.access().slice(before)
    const mine = ids.map((id) => all.find((l) => l.reqId === id))
    const tunnels = all.filter((l) => l.method === 'CONNECT')
    if (mine.some((l) => l === undefined) || tunnels.length < connects) return false
    return { requests: mine.map((l) => [l?.status, l?.reason, l?.error]), connects: tunnels.map((l) => [l.status, l.reason, l.error]) }
  }, 30_000, `an access line for each of ${ids.join(', ')} and ${connects} CONNECT(s)`)
}

describe.each([
  { after: 'two GETs', text: (tag: string): string => get(`${tag}-after-1`) + get(`${tag}-after-2`), ids: (tag: string): string[] => [`${tag}-after-1`, `${tag}-after-2`], connects: 0 },
  { after: 'a CONNECT', text: (): string => connect(), ids: (): string[] => [], connects: 1 },
])('$after written once the gateway closed the connection after a too_many_pipelined refusal', ({ text, ids, connects }) => {
  it('each is refused too_many_pipelined (never started, not sent upstream), like the one pipelined behind the refusal; nothing is answered after the refusal', async () => {
    const tag = `t${Date.now()}`
    const before = g.access().length
    const first = [`held-${tag}`, ...Array.from({ length: MAX_WAITING }, (_, i) => `${tag}-w${i}`), `${tag}-refused`, `${tag}-behind`]
    const c = await rawClient(g.gw.port, '127.0.0.1', { allowHalfOpen: true })
    const fin = new Promise<void>((resolve) => c.socket.once('end', resolve))
    c.socket.write(first.map(get).join(''))
    await eventually(() => upstream.waiting.length === 1 && first.every((id) => read.has(id)), 30_000, 'the first request held and every request read')
    upstream.release()
    // The refusal's answer ended the connection; what the caller writes now is read while it lingers.
    await fin
    c.socket.end(text(tag))
    await c.closed(30_000)
    const answers = [...c.received().toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
    expect(answers).toEqual([...Array<number>(MAX_WAITING + 1).fill(200), 503])
    const lines = await linesOf([`${tag}-refused`, `${tag}-behind`, ...ids(tag)], connects, before)
    expect(lines.requests).toEqual([[503, 'too_many_pipelined', REFUSED], ...Array(1 + ids(tag).length).fill([503, 'too_many_pipelined', BEHIND])])
    expect(lines.connects).toEqual(Array(connects).fill([503, 'too_many_pipelined', BEHIND]))
    expect(upstream.reached.filter((id) => id.includes(tag))).toEqual(first.slice(0, MAX_WAITING + 1))
  })
})

describe('a CONNECT pipelined right behind the refused request, in the same write', () => {
  it('the caller gets the answers before the refusal, the refusal, then the connection closes: the CONNECT is never served (no tunnel, nothing written for it)', async () => {
    const tag = `c${Date.now()}`
    const before = g.access().length
    const connects = connectsSeen
    const first = [`held-${tag}`, ...Array.from({ length: MAX_WAITING }, (_, i) => `${tag}-w${i}`), `${tag}-refused`]
    const c = await rawClient(g.gw.port, '127.0.0.1')
    c.socket.write(first.map(get).join('') + connect())
    await eventually(() => upstream.waiting.length === 1 && first.every((id) => read.has(id)) && connectsSeen > connects, 30_000, 'the first request held, every request and the CONNECT read')
    upstream.release()
    await c.closed(30_000)
    const received = c.received().toString('latin1')
    const answers = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
    expect(answers).toEqual([...Array<number>(MAX_WAITING + 1).fill(200), 503])
    // The refusal is the last thing written: no 200 Connection Established, no TLS record after it.
    expect(received.slice(received.lastIndexOf('HTTP/1.1 503 '))).toMatch(/^HTTP\/1\.1 503 [^]*\r\n\r\n\{"errors":\[\{"msg":"[^"]*","code":503\}\]\}$/)
    const lines = await linesOf([`${tag}-refused`], 1, before)
    expect(lines.requests).toEqual([[503, 'too_many_pipelined', REFUSED]])
    expect(lines.connects).toEqual([[503, 'too_many_pipelined', BEHIND]])
    expect(upstream.reached.filter((id) => id.includes(tag))).toEqual(first.slice(0, MAX_WAITING + 1))
  })
})
