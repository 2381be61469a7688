/**
 * A client pipelining past MAX_WAITING on connection after connection: each refusal is the 503
 * `too_many_pipelined`, the client's doing, not the gateway's fault (the interception CA's 503
 * `unavailable` is). Its access line is at info and capped by logging.callerFaults like a 4xx's,
 * with one summary of the rest; metrics count every one, under endpoint `_none`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_WAITING } from '../../src/proxy/pipelined.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { accessLinesWhere, eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

const BURST = 2
const CONNECTIONS = 8

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let dir: string

/** Answers on a later macrotask, so the requests pipelined behind one are still waiting when the one more arrives. */
function later(req: IncomingMessage, res: ServerResponse): void {
  setTimeout(() => res.end(req.url), 5)
}

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-pipelined-lines-'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: later })
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\nlogging: { callerFaults: { burst: ${BURST}, interval: 10m } }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** MAX_WAITING + 2 pipelined GETs in one write; resolves with how many 503s came back once the gateway closed the connection. */
async function overPipelined(i: number): Promise<number> {
  const c = await rawClient(g.gw.port)
  let text = ''
  for (let n = 0; n < MAX_WAITING + 2; n++) text += `GET /proxy/partner/c${i}/${n} HTTP/1.1\r\nHost: gw\r\n\r\n`
  c.socket.write(text)
  await c.closed(30_000)
  return [...c.received().toString('latin1').matchAll(/HTTP\/1\.1 503 /g)].length
}

describe('requests pipelined past the limit', () => {
  it(`${CONNECTIONS} connections over the limit: 503 too_many_pipelined each, at most ${BURST} lines at info, a summary of the rest, every one counted`, async () => {
    let refused = 0
    for (let i = 0; i < CONNECTIONS; i++) refused += await overPipelined(i)
    expect(refused).toBeGreaterThanOrEqual(CONNECTIONS)
    // Each refusal is counted and logged once it finished on the gateway's side, which can be after its answer was read.
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'GET', status_class: '5xx' }) === refused, 15_000, `${refused} refusals counted`)
    await accessLinesWhere(g, (e) => e.status === 503, BURST, `the first ${BURST} refusals' lines`)
    await g.gw.close()
    const lines = g.access().filter((e) => e.status === 503)
    // Every 503 line names its reason; at most the burst were written.
    expect(lines.map((e) => [e.level, e.reason])).toEqual(Array(BURST).fill(['info', 'too_many_pipelined']))
    expect(String(lines[0]?.error)).toContain(`more than ${MAX_WAITING} requests pipelined on one connection`)
    const entries = g.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const summaries = entries.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed ') && e.reason === 'too_many_pipelined')
    expect(summaries.map((s) => [s.kind, s.suppressed])).toEqual([['request', refused - BURST]])
  }, 120_000)
})
