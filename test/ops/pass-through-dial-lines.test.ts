/**
 * Failed pass-through dials of a caller no one authenticated are capped like other lines such a
 * client causes at will (logging.callerFaults): the caller picks the destination among the
 * allowed ones and how often it tries, so on a gateway without caller apps one client looping
 * CONNECTs to a dead destination wrote one warn line each, without bound. The first `burst`
 * lines of an interval are written (at warn, naming the destination), a summary says how many
 * were held back and from which clients, and metrics count every one. An authenticated
 * caller's lines are never capped (test/proxy/pass-through-dial.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { refusingPort } from '../support/peers.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { accessLinesWhere, eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

const BURST = 2
const ATTEMPTS = 10

let pki: TestPki
let g: OpsGateway
let dir: string
let closedPort: number

beforeAll(async () => {
  pki = await createTestPki()
  pki.writePair('ca', pki.inter)
  dir = mkdtempSync(join(tmpdir(), 'gw-pass-through-lines-'))
  // A port nothing listens on: each dial is refused (ECONNREFUSED) at once.
  closedPort = await refusingPort()
  const interception = `interception:\n  caCert: ${pki.file('ca.crt')}\n  caKey: ${pki.file('ca.key')}\n  passThrough:\n    - { host: 127.0.0.1, port: ${closedPort}, allowPrivate: true }\n`
  // A long interval: every attempt of the test falls in one, whatever the machine's load.
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\nlogging: { callerFaults: { burst: ${BURST}, interval: 10m } }\n${interception}endpoints:\n${endpointYaml('partner', 1, clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** A CONNECT to the dead destination; resolves with the status once the gateway closed the connection. */
function connectToDead(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(g.gw.port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${closedPort} HTTP/1.1\r\nHost: 127.0.0.1:${closedPort}\r\n\r\n`))
    let got = ''
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    s.once('error', reject)
    s.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1] ?? 0)))
  })
}

describe('failed pass-through dials of an unauthenticated caller', () => {
  it(`${ATTEMPTS} CONNECTs to a dead destination: each a 502, at most ${BURST} warn lines, a summary of the rest, every one counted`, async () => {
    const statuses: number[] = []
    for (let i = 0; i < ATTEMPTS; i++) statuses.push(await connectToDead())
    expect(statuses).toEqual(Array(ATTEMPTS).fill(502))
    // Each CONNECT is counted and logged once it finished on the gateway's side, which can be after its caller saw the close.
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '5xx' }) === ATTEMPTS, 15_000, `${ATTEMPTS} CONNECTs counted`)
    await accessLinesWhere(g, (e) => e.method === 'CONNECT', BURST, `the first ${BURST} CONNECTs' lines`)
    await g.gw.close()
    const lines = g.access().filter((e) => e.method === 'CONNECT')
    expect(lines.map((e) => [e.level, e.status, e.reason, e.error])).toEqual(Array(BURST).fill(['warn', 502, 'upstream_connect_refused', `pass-through 127.0.0.1:${closedPort}: connection refused (ECONNREFUSED)`]))
    const entries = g.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const summaries = entries.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed ') && e.reason === 'upstream_connect_refused')
    expect(summaries.map((s) => [s.level, s.kind, s.suppressed, s.clients])).toEqual([['warn', 'request', ATTEMPTS - BURST, { '127.0.0.1': ATTEMPTS - BURST }]])
  })
})
