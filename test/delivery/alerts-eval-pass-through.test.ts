/**
 * The shipped alert rules on a live gateway with two pass-through destinations, one that answers
 * and one that refuses every dial: a caller that keeps choosing the dead one gets 502s, counted
 * as CONNECTs of endpoint "_none" (no destination label), and no alert fires. That is the
 * decision docs/deploy.md explains: a caller decides how often a dead destination among the
 * allowed ones is tried, so a ratio over those CONNECTs would page at its will; the destination's
 * health is a probe's to watch, and its failures have warn access lines naming it (for callers
 * no one authenticated, up to logging.callerFaults' burst).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import type { Scrape } from '../support/promql.js'
import { refusingPort } from '../support/peers.js'
import { accessLinesWhere, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { firedBy, laterScrape, liveScrape, renderMonitoring, rulesOf, type Rule } from './alerts-eval-support.js'
import { expectPrometheusAgrees, type Monitoring } from './alerts-promtool.js'

let monitoring: Monitoring
let rules: Rule[] = []
let scrapes: [Scrape, Scrape]
let echo: TcpServer
let echoPort = 0
let deadPort = 0
let g: OpsGateway | undefined
let dir: string

/** A CONNECT to 127.0.0.1:`port`; the tunnel, if opened, carries one byte back and closes. Resolves with the status. */
function connectTo(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(Number(new URL(g?.gw.url as string).port), '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`))
    let got = ''
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1')
      if (got.startsWith('HTTP/1.1 200 ') && got.endsWith('\r\n\r\n')) s.write('x')
      else if (got.startsWith('HTTP/1.1 200 ') && got.endsWith('x')) s.end()
    })
    s.once('error', reject)
    s.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1] ?? 0)))
  })
}

beforeAll(async () => {
  monitoring = await renderMonitoring()
  rules = rulesOf(monitoring)
  dir = mkdtempSync(join(tmpdir(), 'alerts-eval-pass-through-'))
  const ca = await writeInterceptionCa(join(dir, 'ica'))
  echo = createTcpServer((s) => s.pipe(s))
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
  echoPort = (echo.address() as AddressInfo).port
  deadPort = await refusingPort()
  g = await startOpsGateway(dir, `interception:
  caCert: ${ca.caCert}
  caKey: ${ca.caKey}
  passThrough:
    - { host: 127.0.0.1, port: ${echoPort}, allowPrivate: true }
    - { host: 127.0.0.1, port: ${deadPort}, allowPrivate: true }
endpoints: []
`, { watch: false })
  // One of each before the first scrape (a counter's first sample is not an increase), a burst at the dead one after it.
  expect([await connectTo(echoPort), await connectTo(deadPort)]).toEqual([200, 502])
  const first = await liveScrape(g.adminUrl, rules)
  for (let i = 0; i < 20; i++) expect(await connectTo(deadPort)).toBe(502)
  expect(await connectTo(echoPort)).toBe(200)
  scrapes = [first, await laterScrape(g.adminUrl, rules, first)]
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await new Promise((r) => echo?.close(r))
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the shipped alert rules against a caller that keeps choosing a dead pass-through destination', () => {
  it('count its 502s as CONNECTs of endpoint "_none", with no label naming the destination', () => {
    const connects = scrapes[1].samples.filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.method === 'CONNECT')
    expect(connects.map((s) => [s.labels.endpoint, s.labels.status_class, s.value]).sort()).toEqual([['_none', '2xx', 2], ['_none', '5xx', 21]])
  })

  it('fire no alert', () => {
    expect(firedBy(rules, scrapes)).toEqual([])
    expectPrometheusAgrees(monitoring, [{ name: 'dead pass-through destination', scrapes }])
  })

  // No caller authenticated these CONNECTs: logging.callerFaults (20 in any 10 s by default) holds
  // back the 21st line; the metrics above still count all 21.
  it('log the failures at warn, naming the destination and the reason, up to the caller-fault burst', async () => {
    // Each line is written once its CONNECT finished on the gateway's side, which can be after its caller saw the close.
    const failed = await accessLinesWhere(g as OpsGateway, (l) => l.method === 'CONNECT' && l.status === 502, 20, 'the failures\' access lines')
    expect(failed).toHaveLength(20)
    for (const l of failed) expect(l).toMatchObject({ level: 'warn', reason: 'upstream_connect_refused', error: expect.stringContaining(`pass-through 127.0.0.1:${deadPort}`) })
  })
})
