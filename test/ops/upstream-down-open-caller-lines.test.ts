/**
 * An open caller (callers.required: false: anyone) looping requests to an endpoint whose upstream
 * is down: each is a 502 upstream_connect_refused, the upstream's failure and not the caller's,
 * but the caller chooses how often. Its warn lines are capped by logging.callerFaults as every
 * other line an unauthenticated client can cause at will: the first `burst` written whole (the
 * reason and the endpoint seen in a quiet log), one summary of the rest; metrics count every one.
 * (Until s32 each wrote its warn line, unbounded.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { refusingPort } from '../support/peers.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { accessLinesWhere, eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

const BURST = 3
const REQUESTS = 40

let pki: TestPki
let g: OpsGateway
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-upstream-down-lines-'))
  g = await startOpsGateway(dir, `admin: { host: 127.0.0.1, port: 0 }\nlogging: { callerFaults: { burst: ${BURST}, interval: 10m } }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', await refusingPort(), clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('an open caller looping requests to a dead upstream', () => {
  it(`${REQUESTS} requests: 502 each, at most ${BURST} warn lines, one summary of the rest, every one counted`, async () => {
    for (let i = 0; i < REQUESTS; i++) {
      const r = await get(`${g.gw.url}/proxy/partner/v1/x${i}`)
      expect(r.status, r.text).toBe(502)
      expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: expect.any(String), code: 502 }] })
    }
    // Each request is counted and logged once it finished on the gateway's side, which can be after its answer was read.
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '5xx' }) === REQUESTS, 15_000, `${REQUESTS} requests counted`)
    await accessLinesWhere(g, (e) => e.status === 502, BURST, `the first ${BURST} requests' lines`)
    await g.gw.close()
    const lines = g.access().filter((e) => e.status === 502)
    expect(lines.map((e) => [e.level, e.reason, e.endpoint])).toEqual(Array(BURST).fill(['warn', 'upstream_connect_refused', 'partner']))
    const entries = g.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const summaries = entries.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed ') && e.reason === 'upstream_connect_refused')
    expect(summaries.map((s) => [s.level, s.listener, s.kind, s.suppressed, s.clients])).toEqual([['warn', 'proxy', 'request', REQUESTS - BURST, { '127.0.0.1': REQUESTS - BURST }]])
  }, 120_000)
})
