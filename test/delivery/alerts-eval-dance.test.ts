/**
 * The shipped alert rules on a live gateway whose OAuth callbacks carry made-up verifiers (anyone
 * holding an authorize link can send them): the python3-oauthlib provider refuses each
 * access-token exchange with a 4xx, the browser gets a 403 `oauth_authorization_refused` page,
 * counted as a 4xx of endpoint "_gateway", so MtlsGatewayApiErrorRatio does not fire; the access
 * lines are at info and capped by logging.callerFaults like any client's 4xx. A provider that is
 * down at the callback is still a 502, its line at warn with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import type { Scrape } from '../support/promql.js'
import { accessLineWhere, accessLinesWhere, eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { authorizeLink, cookieFor, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from '../oauth1-dance/dance-support.js'
import { firedBy, laterScrape, liveScrape, renderMonitoring, rulesOf, type Rule } from './alerts-eval-support.js'
import { expectPrometheusAgrees, type Monitoring } from './alerts-promtool.js'

const BURST = 2
const ROUNDS = 5
let monitoring: Monitoring
let rules: Rule[] = []
let scrapes: [Scrape, Scrape]
let pki: TestPki
let provider: DanceProvider
let g: OpsGateway | undefined
let dir: string
const statuses: number[] = []

/** A user's dance from a new link to the provider's approval; the callback then carries a made-up verifier. */
async function refusedCallback(gw: OpsGateway, user: string): Promise<void> {
  const started = await startInBrowser(await authorizeLink(gw.gw.url, `user=${user}`), { provider })
  const callbackUrl = new URL(await provider.decide(started.requestToken, 'approve'))
  const headers = cookieFor(started.cookie, callbackUrl.toString())
  callbackUrl.searchParams.set('oauth_verifier', `madeup${user}verifier0000`)
  statuses.push((await send(gw.gw.url, pathOf(callbackUrl.toString()), { headers })).status)
}

beforeAll(async () => {
  monitoring = await renderMonitoring()
  rules = rulesOf(monitoring)
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'alerts-eval-dance-'))
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }).replace('admin:\n  enabled: false\n', '')
  g = await startOpsGateway(dir, `${yaml}logging:\n  callerFaults: { burst: ${BURST}, interval: 10m }\n`, { watch: false })
  // One before the first scrape, the rest before the second (a counter's first sample is not an increase).
  await refusedCallback(g, 'u0')
  const first = await liveScrape(g.adminUrl, rules)
  for (let i = 1; i < ROUNDS; i++) await refusedCallback(g, `u${i}`)
  scrapes = [first, await laterScrape(g.adminUrl, rules, first)]
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the shipped alert rules against callbacks with made-up verifiers', () => {
  it('answer each with a 403, counted as a 4xx of "_gateway", no 5xx', () => {
    expect(statuses).toEqual(Array(ROUNDS).fill(403))
    const requests = (status: string): number =>
      scrapes[1].samples.filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === '_gateway' && s.labels.status_class === status).reduce((n, s) => n + s.value, 0)
    expect([requests('4xx'), requests('5xx')]).toEqual([ROUNDS, 0])
  })

  it('fire no API error-ratio alert', () => {
    expect(firedBy(rules, scrapes)).not.toContain('MtlsGatewayApiErrorRatio')
    expectPrometheusAgrees(monitoring, [{ name: 'refused approvals', scrapes }])
  })

  it('log the refusals at info, capped at the burst', async () => {
    const gw = g as OpsGateway
    // A line written after every refusal's: the refusals' own lines are all out by then.
    const marker = await send(gw.gw.url, '/gateway/oauth1/partner/authorize?user=x')
    const reqId = marker.headers['x-request-id']
    expect(reqId).toBeTypeOf('string')
    await eventually(async () => gw.access().some((e) => e.reqId === reqId), 30_000, 'the marker request\'s access line')
    // Not proof on its own: a refusal's line is written once it finished on the gateway's side, which can be after the marker's.
    const refused = await accessLinesWhere(gw, (e) => e.reason === 'oauth_authorization_refused', BURST, 'the refusals\' access lines')
    expect(refused.map((e) => [e.level, e.status])).toEqual(Array(BURST).fill(['info', 403]))
    expect(refused.map((e) => String(e.error))).toEqual(Array(BURST).fill(expect.stringMatching(/access-token request to .* was refused with HTTP 4\d\d/)))
    for (const e of refused) expect(JSON.stringify(e)).not.toMatch(/madeup/)
  })

  it('a provider down at the callback: a 502 page, its line at warn naming the failure', async () => {
    const gw = g as OpsGateway
    const started = await startInBrowser(await authorizeLink(gw.gw.url, 'user=down'), { provider })
    const callbackUrl = await provider.decide(started.requestToken, 'approve')
    await provider.close()
    const page = await send(gw.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
    expect(page.status, page.text).toBe(502)
    expect(page.text).toContain('Partner Bank did not issue an access token')
    const reqId = page.headers['x-request-id']
    const line = await accessLineWhere(gw, (e) => e.reqId === reqId, 'the callback\'s access line', { timeoutMs: 30_000 })
    expect([line.level, line.status]).toEqual(['warn', 502])
    expect(line.reason).toMatch(/^upstream_connect_(refused|reset)$/)
  })
})
