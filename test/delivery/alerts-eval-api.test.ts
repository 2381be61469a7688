/**
 * The shipped alert rules on a live gateway whose store went away: the gateway API's own 5xx
 * (503 store_unavailable on POST /gateway/token, endpoint "_gateway") fire MtlsGatewayApiErrorRatio
 * (and MtlsGatewayStoreUnreachable), while a client flooding HTTP/2 prefaces (505 before routing,
 * endpoint "_none") fires no error-ratio alert, and neither does the endpoint that served.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { startRedisServer } from '../support/redis-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import type { Scrape } from '../support/promql.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { firedBy, http2Preface, laterScrape, liveScrape, renderMonitoring, rulesOf, type Rule } from './alerts-eval-support.js'
import { expectPrometheusAgrees, type Monitoring } from './alerts-promtool.js'

const SECRET = 's'.repeat(32)
let monitoring: Monitoring
let rules: Rule[] = []
let scrapes: [Scrape, Scrape]
let pki: TestPki
let upstream: RunningServer
let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined
let g: OpsGateway | undefined
let dir: string

/** POST /gateway/token with a fresh assertion of app "bot" (its jti makes the route ask the store). */
async function tokenRequest(url: string): Promise<number> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: 'https://gateway.test', sub: 'u1', iat: now, exp: now + 300, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  const r = await fetch(`${url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  await r.text()
  return r.status
}

beforeAll(async () => {
  monitoring = await renderMonitoring()
  rules = rulesOf(monitoring)
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  redis = await startRedisServer()
  dir = mkdtempSync(join(tmpdir(), 'alerts-eval-api-'))
  const callers = `callers:\n  required: false\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "https://gateway.test", endpoints: [partner] }\n`
  g = await startOpsGateway(dir, `store: { kind: redis, url: "${redis.url}", keyPrefix: "alerts-eval-api:" }\n${callers}endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`, { watch: false })
  const gw = g
  await redis.stop()
  await eventually(async () => valueOf(await scrape(gw.adminUrl), 'mtls_gateway_store_up') === 0, 30_000, 'store_up to say the stopped Redis is down')
  // The store stays down: one 503 and one preface before the first scrape, more before the second (a counter's first sample is not an increase).
  expect(await tokenRequest(gw.gw.url)).toBe(503)
  expect(await http2Preface(gw.gw.url)).toMatch(/^HTTP\/1\.1 505 /)
  const first = await liveScrape(gw.adminUrl, rules)
  // Over the ratio alerts' traffic floor (prometheusRule.errorRatio.minRequestRate: 6 in the 5 min window).
  for (let i = 0; i < 9; i++) expect(await tokenRequest(gw.gw.url)).toBe(503)
  for (let i = 0; i < 20; i++) expect(await http2Preface(gw.gw.url)).toMatch(/^HTTP\/1\.1 505 /)
  // A route-mode call needs no store (callers.required is off): the endpoint serves throughout.
  for (let i = 0; i < 2; i++) expect((await send(gw.gw.url, `/proxy/partner/a${i}`)).status).toBe(200)
  scrapes = [first, await laterScrape(gw.adminUrl, rules, first)]
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await redis?.stop()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the shipped alert rules against a gateway whose store is down', () => {
  it('count the gateway API\'s 503s under "_gateway" and the prefaces\' 505s under "_none"', () => {
    const requests = (endpoint: string, status: string): number =>
      scrapes[1].samples.filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === endpoint && s.labels.status_class === status).reduce((n, s) => n + s.value, 0)
    expect([requests('_gateway', '5xx'), requests('_none', '5xx'), requests('partner', '2xx')]).toEqual([10, 21, 2])
  })

  it('fire the gateway API\'s error-ratio alert and the store\'s, and no alert on the prefaces', () => {
    expect(firedBy(rules, scrapes)).toEqual(['MtlsGatewayApiErrorRatio', 'MtlsGatewayStoreUnreachable'])
    expectPrometheusAgrees(monitoring, [{ name: 'store down', scrapes }])
  })
})
