/**
 * A CONNECT pipelined behind requests is answered in its turn (pipelined.ts); when it never is,
 * it is still accounted for like a request in its place: one access line and one requests_total
 * sample. Behind a request refused for pipelining too many it is refused too (503
 * `too_many_pipelined`, nothing written: the answers before it go out, then the connection
 * closes); when the caller resets the connection while it waits, it is 499 `caller_aborted`, as
 * a request waiting there is.
 * Before, neither left a line or a sample: the CONNECT vanished from the log and the metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_WAITING } from '../../src/proxy/pipelined.js'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let dir: string
/** Answers held by the upstream until the test lets them go. */
const held: ServerResponse[] = []

function hold(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.includes('/hold')) held.push(res)
  else setTimeout(() => res.end(req.url), 5)
}

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-pipelined-connect-'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: hold })
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  for (const res of held.splice(0)) res.end()
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const connectLines = (): Record<string, unknown>[] => g.access().filter((e) => e.method === 'CONNECT')
const CONNECT = `CONNECT api.partner.test:443 HTTP/1.1\r\nHost: api.partner.test:443\r\n\r\n`

describe('a CONNECT pipelined behind requests that is never served', () => {
  it('behind a request refused for pipelining too many: its own 503 too_many_pipelined line and sample, nothing written for it', async () => {
    const c = await rawClient(g.gw.port)
    let text = ''
    for (let n = 0; n < MAX_WAITING + 2; n++) text += `GET /proxy/partner/p/${n} HTTP/1.1\r\nHost: gw\r\n\r\n`
    c.socket.write(text + CONNECT)
    await c.closed(30_000)
    const answers = [...c.received().toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])
    // The requests before it, answered in order; the refused one; nothing for the CONNECT (no 200, no second 503).
    expect(answers).toEqual([...Array<string>(MAX_WAITING + 1).fill('200'), '503'])
    const lines = await eventually(() => connectLines().length === 1 && connectLines())
    expect(lines.map((e) => [e.status, e.reason, e.mode])).toEqual([[503, 'too_many_pipelined', 'connect']])
    const samples = await scrape(g.adminUrl)
    expect(valueOf(samples, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '5xx' })).toBe(1)
  })

  it('waiting while its caller resets the connection: a 499 caller_aborted line and sample, as a request in its place gets', async () => {
    const before = connectLines().length
    const c = await rawClient(g.gw.port)
    c.socket.write(`GET /proxy/partner/hold HTTP/1.1\r\nHost: gw\r\n\r\n${CONNECT}`)
    await eventually(() => held.length === 1, 15_000, 'the upstream to hold the request')
    c.socket.resetAndDestroy()
    const lines = await eventually(() => connectLines().length === before + 1 && connectLines().slice(before))
    expect(lines.map((e) => [e.status, e.reason])).toEqual([[499, 'caller_aborted']])
    for (const res of held.splice(0)) res.end('held')
    const samples = await scrape(g.adminUrl)
    expect(valueOf(samples, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' })).toBe(1)
  })
})
