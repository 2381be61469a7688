/**
 * The first failures after a start (or after a reload that adds an endpoint) are an increase:
 * every configured endpoint's 5xx series of requests_total (each method label) and its
 * upstream TLS handshake failure series (each reason) exist at 0 from the first scrape. A
 * counter series that first appears at its first failure has no increase for rate() or
 * increase(), so MtlsGatewayHighErrorRatio and MtlsGatewayUpstreamHandshakeFailures would
 * miss a burst that came between two scrapes. Checked in-process, with the shipped rules on
 * the scrapes before and after the burst, and with `serve --workers 2` across a reload.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { startUpstreamKinds, type UpstreamKinds } from '../support/upstream-kinds.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { firedBy, laterScrape, liveScrape, renderMonitoring, rulesOf, type Rule } from '../delivery/alerts-eval-support.js'
import { eventually, replaceFile, scrape, spawnTwoWorkers, startOpsGateway, valueOf, type OpsGateway, type Sample } from './helpers.js'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'other']
const HANDSHAKE_REASONS = ['upstream_cert_untrusted', 'upstream_cert_expired', 'upstream_cert_not_yet_valid', 'upstream_hostname_mismatch', 'upstream_pin_mismatch',
  'upstream_cert_revoked', 'upstream_cert_wrong_purpose', 'upstream_client_cert_rejected', 'upstream_tls_version_refused', 'upstream_tls_failed']

let u: UpstreamKinds
let rules: Rule[]
let dir: string
let g: OpsGateway | undefined

/** The value of the one sample of `name` whose labels include `labels` (a scrape's target labels besides). */
const valueIn = (samples: readonly Sample[], name: string, labels: Record<string, string>): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

/** The zero series each endpoint in `endpoints` must have on `samples`, and the ones missing or not 0. */
function missingZeros(samples: readonly Sample[], endpoints: string[]): string[] {
  const want = endpoints.flatMap((endpoint) => [
    ...METHODS.map((method) => ['mtls_gateway_requests_total', { endpoint, method, status_class: '5xx' }] as const),
    ...HANDSHAKE_REASONS.map((reason) => ['mtls_gateway_upstream_tls_handshake_failures_total', { endpoint, reason }] as const),
  ])
  return want.filter(([name, labels]) => valueIn(samples, name, labels) !== 0).map(([name, labels]) => `${name}${JSON.stringify(labels)}`)
}

const yamlWith = (extra = ''): string =>
  `endpoints:\n${endpointYaml('partner', u.serving.port, clientTls(u.pki))}${endpointYaml('down', u.refusing, clientTls(u.pki))}${endpointYaml('stranger', u.untrusted.port, clientTls(u.pki))}${extra}`

beforeAll(async () => {
  rules = rulesOf(await renderMonitoring())
  // A serving upstream, one whose certificate chains to another root (every handshake fails upstream_cert_untrusted), a refusing port.
  u = await startUpstreamKinds()
  dir = mkdtempSync(join(tmpdir(), 'first-failure-'))
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await u?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Failed calls per endpoint in the first burst: above the ratio alerts' default traffic floor (about 6 in 5 min). */
const BURST = 10

describe('the series of an endpoint\'s first failures', () => {
  it('exist at 0 before any request, so the shipped rules fire on the first burst after a start', async () => {
    g = await startOpsGateway(dir, yamlWith(), { watch: true })
    const fresh = await liveScrape(g.adminUrl, rules)
    expect(missingZeros(fresh.samples, ['partner', 'down', 'stranger'])).toEqual([])
    // The process-wide one of a closed set an operator alerts on: running out of file descriptors.
    for (const where of ['accept', 'request']) expect(valueIn(fresh.samples, 'mtls_gateway_fd_exhausted_total', { where }), where).toBe(0)
    // A burst above the ratio alerts' traffic floor (prometheusRule.errorRatio.minRequestRate, 0.02/s over 5 min).
    for (let i = 0; i < BURST; i++) {
      expect((await send(g.gw.url, `/proxy/down/x${i}`)).status).toBe(502)
      expect((await send(g.gw.url, `/proxy/stranger/x${i}`)).status).toBe(502)
    }
    const burst = await laterScrape(g.adminUrl, rules, fresh)
    expect(valueIn(burst.samples, 'mtls_gateway_upstream_tls_handshake_failures_total', { endpoint: 'stranger', reason: 'upstream_cert_untrusted' })).toBe(BURST)
    expect(firedBy(rules, [fresh, burst])).toEqual(['MtlsGatewayUpstreamHandshakeFailures', 'MtlsGatewayHighErrorRatio'])
  }, 120_000)

  it('exist at 0 for an endpoint a reload adds; an endpoint it removes leaves no series, as a fresh start would', async () => {
    if (!g) throw new Error('no gateway')
    const reloads = async (): Promise<number> => valueOf(await scrape(g?.adminUrl as string), 'mtls_gateway_config_reloads_total', { result: 'success' }) ?? 0
    const before = await reloads()
    replaceFile(join(dir, 'gateway.yaml'), `endpoints:\n${endpointYaml('partner', u.serving.port, clientTls(u.pki))}${endpointYaml('late', u.refusing, clientTls(u.pki))}`)
    await eventually(async () => (await reloads()) > before, 60_000, 'the reload')
    const after = await scrape(g.adminUrl)
    expect(missingZeros(after, ['partner', 'late'])).toEqual([])
    // A fresh start with this file has no series of the removed endpoints (dashboards and alerts would still show them): counts included.
    expect(after.filter((s) => s.labels.endpoint === 'down' || s.labels.endpoint === 'stranger').map((s) => s.name)).toEqual([])
  }, 120_000)

  it('exist at 0 with `serve --workers 2`, and after a reload that adds an endpoint', async () => {
    const wdir = mkdtempSync(join(tmpdir(), 'first-failure-workers-'))
    const { gp, config } = await spawnTwoWorkers(wdir, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n${yamlWith()}`)
    try {
      const admin = await adminUrlOf(gp)
      expect(missingZeros(await scrape(admin), ['partner', 'down', 'stranger'])).toEqual([])
      const reloads = async (): Promise<number> => valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'success' }) ?? 0
      const before = await reloads()
      replaceFile(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n${yamlWith(endpointYaml('late', u.refusing, clientTls(u.pki)))}`)
      await eventually(async () => (await reloads()) > before, 60_000, 'the reload')
      expect(missingZeros(await scrape(admin), ['partner', 'down', 'stranger', 'late'])).toEqual([])
    } finally {
      await gp.stop('SIGKILL')
      rmSync(wdir, { recursive: true, force: true })
    }
  }, 180_000)
})
