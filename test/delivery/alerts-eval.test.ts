/**
 * The shipped alert rules evaluated, not just parsed: two scrapes of a live, healthy gateway
 * without a store (one endpoint, calls between the scrapes), labelled the way the chart's
 * ServiceMonitor labels them, make no rule fire. The same scrapes with one failure written in
 * (a store down, 5xx, handshake failures, a failed reload, a certificate near expiry, a degraded
 * endpoint) make the matching rule fire, so "nothing fires" is not the evaluator's blindness. A
 * client's HTTP/2 preface before each scrape (505 under endpoint "_none") fires nothing; the gateway
 * API's own 5xx (endpoint "_gateway") fire MtlsGatewayApiErrorRatio. Prometheus's promtool runs
 * every scenario too and must fire the same alerts, label for label (alerts-promtool.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { firing, type Scrape } from '../support/promql.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { firedBy, http2Preface, liveScrape as scrapeOf, renderMonitoring, rulesOf, targetLabels as labelsOf, type Rule } from './alerts-eval-support.js'
import { expectPrometheusAgrees as agrees, type Monitoring, type Scenario } from './alerts-promtool.js'

let monitoring: Monitoring
let rules: Rule[] = []
let scrapes: [Scrape, Scrape]
let pki: TestPki
let upstream: RunningServer
let g: OpsGateway | undefined
let dir: string

const targetLabels = (): Record<string, string> => labelsOf(rules)
const liveScrape = (): Promise<Scrape> => scrapeOf(g?.adminUrl as string, rules)

beforeAll(async () => {
  monitoring = await renderMonitoring()
  rules = rulesOf(monitoring)
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = mkdtempSync(join(tmpdir(), 'alerts-eval-'))
  const tls = clientTls(pki)
  // No callers and no per-user profile: the gateway opens no store.
  g = await startOpsGateway(dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`, { watch: false })
  expect(g.gw.runtime.store).toBeUndefined()
  for (let i = 0; i < 3; i++) expect((await send(g.gw.url, `/proxy/partner/a${i}`)).status).toBe(200)
  expect(await http2Preface(g.gw.url)).toMatch(/^HTTP\/1\.1 505 /)
  // A request to the gateway API, counted under endpoint "_gateway".
  expect((await send(g.gw.url, '/gateway/no-such-route')).status).toBe(404)
  const first = await liveScrape()
  for (let i = 0; i < 5; i++) expect((await send(g.gw.url, `/proxy/partner/b${i}`)).status).toBe(200)
  // A client speaking HTTP/2 prior knowledge, before each scrape: a 505 under endpoint "_none", the caller's doing.
  expect(await http2Preface(g.gw.url)).toMatch(/^HTTP\/1\.1 505 /)
  // rate() divides by the time between the scrapes: make sure it is not zero.
  while (Date.now() / 1000 <= first.at) await new Promise((resolve) => setTimeout(resolve, 10))
  scrapes = [first, await liveScrape()]
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

type Sample = Scrape['samples'][number]

/**
 * The two scrapes with `series` set ([value at the earlier scrape, at the later]) and `edit` applied to
 * the later. A series the gateway exports already is replaced: a scrape holds each series once.
 */
function changed(series: { name: string; labels: Record<string, string>; values: [number, number] }[], edit = (x: Sample): Sample => x): [Scrape, Scrape] {
  const target = targetLabels()
  const id = (x: { name: string; labels: Record<string, string> }): string => JSON.stringify([x.name, Object.entries({ ...x.labels, ...target }).sort()])
  const set = new Set(series.map(id))
  const kept = (i: 0 | 1): Sample[] => scrapes[i].samples.filter((x) => !set.has(id(x)))
  const extra = (i: 0 | 1): Sample[] => series.map((x) => ({ name: x.name, labels: { ...x.labels, ...target }, value: x.values[i] }))
  return [{ ...scrapes[0], samples: [...kept(0), ...extra(0)] }, { at: scrapes[1].at, samples: [...kept(1).map(edit), ...extra(1)] }]
}

const fired = (s: readonly [Scrape, Scrape]): string[] => firedBy(rules, s)

/** The evaluator's verdict on `s` is `alerts`; `s` is kept for promtool's (expectPrometheusAgrees; a failed test's are dropped). */
const judged: Scenario[] = []
function fires(s: readonly [Scrape, Scrape], alerts: string[]): void {
  expect(fired(s)).toEqual(alerts)
  judged.push({ name: `#${judged.length}: ${alerts.join(', ') || 'no alert'}`, scrapes: s })
}

/** The real Prometheus engine (promtool test rules) fires, label for label, what the evaluator did on each scenario judged so far. */
const expectPrometheusAgrees = (): void => agrees(monitoring, judged.splice(0))
beforeEach(() => void judged.splice(0))

describe('the shipped alert rules against a healthy gateway without a store', () => {
  it('the scrape has no store_up series and shows the endpoint served', () => {
    const [, later] = scrapes
    expect(later.samples.filter((s) => s.name === 'mtls_gateway_store_up')).toEqual([])
    // Counted series only: a configured endpoint's 5xx series exist at 0 from the start (first-failure-series.test.ts).
    const byClass = (endpoint: string): [string | undefined, number][] => later.samples.filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === endpoint && s.value !== 0).map((s) => [s.labels.status_class, s.value])
    expect(byClass('partner')).toEqual([['2xx', 8]])
    expect(byClass('_none')).toEqual([['5xx', 2]])
    expect(byClass('_gateway')).toEqual([['4xx', 1]])
  })

  it('fire nothing', () => {
    expect(rules.length).toBeGreaterThanOrEqual(7)
    for (const r of rules) expect(firing(r.expr, scrapes), `${r.alert}: ${r.expr}`).toEqual([])
    fires(scrapes, [])
    expectPrometheusAgrees()
  })

  it('each fire on the failure it is about (the evaluator sees them)', () => {
    const partner = { endpoint: 'partner' }
    fires(changed([]), [])
    fires(changed([{ name: 'mtls_gateway_store_up', labels: {}, values: [0, 0] }]), ['MtlsGatewayStoreUnreachable'])
    fires(changed([{ name: 'mtls_gateway_store_up', labels: {}, values: [1, 1] }]), [])
    fires(changed([{ name: 'mtls_gateway_store_eviction_allowed', labels: {}, values: [1, 1] }]), ['MtlsGatewayStoreMayEvict'])
    fires(changed([{ name: 'mtls_gateway_store_eviction_allowed', labels: {}, values: [0, 0] }]), [])
    // A refused Sentinel subscription fires; Sentinels followed, none refusing, do not.
    const watch = (refused: number): Parameters<typeof changed>[0] => [{ name: 'mtls_gateway_store_failover_watch_sentinels', labels: { state: 'following' }, values: [2, 2] }, { name: 'mtls_gateway_store_failover_watch_sentinels', labels: { state: 'refused' }, values: [refused, refused] }]
    fires(changed(watch(1)), ['MtlsGatewayStoreFailoverWatchRefused'])
    fires(changed(watch(0)), [])
    const failedReload = (x: Sample): Sample => (x.name === 'mtls_gateway_config_reloads_total' && x.labels.result === 'failure' ? { ...x, value: x.value + 1 } : x)
    fires(changed([], failedReload), ['MtlsGatewayConfigReloadFailed'])
    fires(changed([{ name: 'mtls_gateway_endpoint_degraded', labels: { ...partner, reason: 'client_cert_expired' }, values: [1, 1] }]), ['MtlsGatewayEndpointDegraded'])
    const clientExpiresIn = (seconds: number) => (x: Sample): Sample => (x.name === 'mtls_gateway_certificate_expiry_timestamp_seconds' && x.labels.kind === 'client' ? { ...x, value: scrapes[1].at + seconds } : x)
    fires(changed([], clientExpiresIn(86400)), ['MtlsGatewayCertificateExpiringSoon', 'MtlsGatewayCertificateExpiryCritical'])
    // Expired an hour ago (a negative time left): both still fire; in 30 days, neither.
    fires(changed([], clientExpiresIn(-3600)), ['MtlsGatewayCertificateExpiringSoon', 'MtlsGatewayCertificateExpiryCritical'])
    fires(changed([], clientExpiresIn(30 * 86400)), [])
    // Not valid for another hour: the interception CA (or a listener's) fires its own alert; an
    // endpoint's bundle is MtlsGatewayEndpointDegraded's (its gauge), not this one's.
    const later = scrapes[1].at + 3600
    fires(changed([{ name: 'mtls_gateway_certificate_not_before_timestamp_seconds', labels: { endpoint: '', kind: 'interception_ca' }, values: [later, later] }]), ['MtlsGatewayCertificateNotYetValid'])
    fires(changed([{ name: 'mtls_gateway_certificate_not_before_timestamp_seconds', labels: { endpoint: '', kind: 'interception_ca' }, values: [later, scrapes[1].at - 60] }]), [])
    fires(changed([{ name: 'mtls_gateway_certificate_not_before_timestamp_seconds', labels: { ...partner, kind: 'client' }, values: [later, later] }]), [])
    // A listener's own certificate is a TLS file: it pages once, as MtlsGatewayTlsFileNotYetValid, like every TLS file.
    const listenerNotBefore = { name: 'mtls_gateway_certificate_not_before_timestamp_seconds', labels: { endpoint: '', kind: 'listener' }, values: [later, later] as [number, number] }
    const tlsFileNotBefore = (key: string, at: number) => ({ name: 'mtls_gateway_tls_file_not_before_timestamp_seconds', labels: { key }, values: [at, at] as [number, number] })
    fires(changed([listenerNotBefore, tlsFileNotBefore('listen.tls.cert', later)]), ['MtlsGatewayTlsFileNotYetValid'])
    for (const key of ['admin.tls.clientCa', 'tracing.otlp.tls.ca', 'store.redis.tls.cert']) {
      fires(changed([tlsFileNotBefore(key, later)]), ['MtlsGatewayTlsFileNotYetValid'])
      fires(changed([tlsFileNotBefore(key, scrapes[1].at - 60)]), [])
    }
    // A CRL an hour before its nextUpdate (the endpoint degrades then) fires; one renewed for days ahead does not.
    fires(changed([{ name: 'mtls_gateway_crl_next_update_timestamp_seconds', labels: partner, values: [later, later] }]), ['MtlsGatewayCrlNextUpdateSoon'])
    fires(changed([{ name: 'mtls_gateway_crl_next_update_timestamp_seconds', labels: partner, values: [later, later + 7 * 86400] }]), [])
    fires(changed([{ name: 'mtls_gateway_requests_total', labels: { ...partner, method: 'GET', status_class: '5xx' }, values: [0, 10] }]), ['MtlsGatewayHighErrorRatio'])
    // Matched to no endpoint (endpoint="_none"): the 505 of clients speaking HTTP/2 prior knowledge
    // (`PRI * HTTP/2.0`) or a scanner's HTTP/3.0 request lines are the callers' doing, not a backend's.
    const served5xx = (endpoint: string, values: [number, number]) => [{ name: 'mtls_gateway_requests_total', labels: { endpoint, method: 'GET', status_class: '5xx' }, values }]
    fires(changed(served5xx('_none', [0, 500])), [])
    fires(changed([...served5xx('_none', [0, 500]), ...served5xx('partner', [0, 10])]), ['MtlsGatewayHighErrorRatio'])
    // The gateway API's own 5xx (502 oauth_provider_failed, 503 store_unavailable, 500): an alert of their own.
    fires(changed(served5xx('_gateway', [0, 10])), ['MtlsGatewayApiErrorRatio'])
    fires(changed([...served5xx('_none', [0, 500]), ...served5xx('_gateway', [0, 10])]), ['MtlsGatewayApiErrorRatio'])
    // An endpoint named "none" is an endpoint like any other: its 5xx raise the ratio alert.
    fires(changed(served5xx('none', [0, 10])), ['MtlsGatewayHighErrorRatio'])
    fires(changed([{ name: 'mtls_gateway_upstream_tls_handshake_failures_total', labels: { ...partner, reason: 'upstream_cert_untrusted' }, values: [0, 5] }]), ['MtlsGatewayUpstreamHandshakeFailures'])
    expectPrometheusAgrees()
  })

  it('a TLS file besides the bundles (listener certificate or client CA, OTLP, Redis) near or past its expiry fires the TLS-file alerts; 30 days ahead does not', () => {
    const tlsFile = (key: string, seconds: number) => ({ name: 'mtls_gateway_tls_file_expiry_timestamp_seconds', labels: { key }, values: [scrapes[1].at + seconds, scrapes[1].at + seconds] as [number, number] })
    const both = ['MtlsGatewayTlsFileExpiringSoon', 'MtlsGatewayTlsFileExpiryCritical']
    for (const key of ['listen.tls.cert', 'admin.tls.clientCa', 'tracing.otlp.tls.cert', 'store.redis.tls.ca']) {
      fires(changed([tlsFile(key, 86400)]), both)
      // Expired an hour ago: still firing (the handshakes it serves fail now).
      fires(changed([tlsFile(key, -3600)]), both)
      fires(changed([tlsFile(key, 10 * 86400)]), ['MtlsGatewayTlsFileExpiringSoon'])
      fires(changed([tlsFile(key, 30 * 86400)]), [])
    }
    // The listener's leaf is also in the bundle family (kind "listener"): it pages once, as the TLS file.
    const listenerLeaf = { name: 'mtls_gateway_certificate_expiry_timestamp_seconds', labels: { endpoint: '', kind: 'listener' }, values: [scrapes[1].at + 86400, scrapes[1].at + 86400] as [number, number] }
    fires(changed([listenerLeaf, tlsFile('listen.tls.cert', 86400)]), both)
    const fired = firing(rules.find((r) => r.alert === 'MtlsGatewayTlsFileExpiryCritical')?.expr ?? '', changed([tlsFile('store.redis.tls.cert', 86400)]))
    // One alert per namespace and config key: the page names the file's key.
    expect(fired.map((x) => x.labels)).toEqual([{ namespace: targetLabels().namespace, key: 'store.redis.tls.cert' }])
    expectPrometheusAgrees()
  })

  it('mid-upgrade, an old pod\'s "none" (its gateway API and unrouted requests) is an endpoint to these rules, over the 5 min rate window (docs/deploy.md)', () => {
    // A new pod's API answers 2xx under "_gateway"; the old pod's API 503s are labelled "none", as before the rename.
    const api = (endpoint: string, status_class: string, values: [number, number]) => ({ name: 'mtls_gateway_requests_total', labels: { endpoint, method: 'POST', status_class }, values })
    const mixed = changed([api('_gateway', '2xx', [0, 50]), api('none', '2xx', [0, 50]), api('none', '5xx', [0, 10])])
    fires(mixed, ['MtlsGatewayHighErrorRatio'])
    const high = rules.find((r) => r.alert === 'MtlsGatewayHighErrorRatio')
    expect(firing(high?.expr ?? '', mixed).map((x) => x.labels.endpoint)).toEqual(['none'])
    // The ratio's two rates and the traffic floor's (prometheusRule.errorRatio.minRequestRate): one 5 min window.
    for (const r of rules.filter((x) => /ErrorRatio$/.test(x.alert))) expect(r.expr.match(/\[\w+\]/g), r.alert).toEqual(['[5m]', '[5m]', '[5m]'])
    expectPrometheusAgrees()
  })

  it('each new alert fires on its condition: a target down or absent, worker restarts, a burst of caller refusals, egress refusals, dropped log lines, dropped trace spans', () => {
    const down = (x: Sample): Sample => (x.name === 'up' ? { ...x, value: 0 } : x)
    fires(changed([], down), ['MtlsGatewayTargetDown'])
    const [earlier, later] = scrapes
    fires([earlier, { at: later.at, samples: later.samples.filter((x) => x.name !== 'up') }], ['MtlsGatewayTargetAbsent'])
    const bump = (name: string, by: number, labels: Record<string, string> = {}) => (x: Sample): Sample =>
      x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) ? { ...x, value: x.value + by } : x
    fires(changed([], bump('mtls_gateway_worker_restarts_total', 3)), ['MtlsGatewayWorkerRestarts'])
    fires(changed([], bump('mtls_gateway_worker_restarts_total', 1)), [])
    fires(changed([], bump('mtls_gateway_caller_auth_failures_total', 60, { reason: 'bad_signature' })), ['MtlsGatewayCallerAuthFailureBurst'])
    fires(changed([], bump('mtls_gateway_caller_auth_failures_total', 5, { reason: 'bad_signature' })), [])
    // Each throttle's refusals under a reason of their own: the alert names which one bursts.
    const burst = rules.find((r) => r.alert === 'MtlsGatewayCallerAuthFailureBurst')?.expr ?? ''
    for (const reason of ['admin_token_throttled', 'token_exchange_throttled']) {
      expect(firing(burst, changed([], bump('mtls_gateway_caller_auth_failures_total', 60, { reason }))).map((x) => x.labels.reason)).toEqual([reason])
    }
    fires(changed([], bump('mtls_gateway_egress_refusals_total', 1, { reason: 'metadata' })), ['MtlsGatewayEgressRefusals'])
    fires(changed([], bump('mtls_gateway_log_lines_dropped_total', 1)), ['MtlsGatewayLogLinesDropped'])
    fires(changed([], bump('mtls_gateway_trace_spans_dropped_total', 1)), ['MtlsGatewayTraceSpansDropped'])
    const open = (n: number) => (x: Sample): Sample => (x.name === 'mtls_gateway_connections_open' && x.labels.listener === 'proxy' ? { ...x, value: n } : x)
    const max = later.samples.find((x) => x.name === 'mtls_gateway_connections_max' && x.labels.listener === 'proxy')?.value ?? 0
    fires(changed([], open(Math.ceil(max * 0.85))), ['MtlsGatewayConnectionsNearCap'])
    fires(changed([], open(Math.floor(max * 0.75))), [])
    // One worker at its cap refusing connections while the instance's ratio is low: fires too.
    const refusedAtCap = [{ name: 'mtls_gateway_connections_refused_total', labels: { listener: 'proxy', reason: 'max_connections' }, values: [0, 3] as [number, number] }]
    fires(changed(refusedAtCap), ['MtlsGatewayConnectionsNearCap'])
    fires(changed([{ ...refusedAtCap[0]!, labels: { listener: 'proxy', reason: 'per_address' } }]), [])
    // Calls waiting for an upstream connection at both scrapes fire; at one of them only, not.
    const waiting = (values: [number, number]) => [{ name: 'mtls_gateway_upstream_requests_waiting', labels: { endpoint: 'other' }, values }]
    fires(changed(waiting([3, 1])), ['MtlsGatewayUpstreamPoolSaturated'])
    fires(changed(waiting([3, 0])), [])
    fires(changed(waiting([0, 3])), [])
    expectPrometheusAgrees()
  })

  it('the series those alerts read exist at 0 on a healthy gateway, so a first failure is an increase', () => {
    const [, later] = scrapes
    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      later.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value
    expect(value('mtls_gateway_worker_restarts_total')).toBe(0)
    expect(value('mtls_gateway_caller_auth_failures_total', { reason: 'bad_signature' })).toBe(0)
    expect(value('mtls_gateway_caller_auth_failures_total', { reason: 'admin_token_throttled' })).toBe(0)
    expect(value('mtls_gateway_caller_auth_failures_total', { reason: 'token_exchange_throttled' })).toBe(0)
    expect(value('mtls_gateway_egress_refusals_total', { reason: 'metadata' })).toBe(0)
    expect(value('mtls_gateway_log_lines_dropped_total')).toBe(0)
    expect(value('mtls_gateway_trace_spans_dropped_total', { reason: 'queue_full' })).toBe(0)
    expect(value('mtls_gateway_trace_spans_dropped_total', { reason: 'export_failed' })).toBe(0)
    expect(value('mtls_gateway_connections_refused_total', { listener: 'proxy', reason: 'max_connections' })).toBe(0)
    // The connection gauges exist (a call's connection may still be closing: connections-open.test.ts counts them), with the listener's default cap.
    expect(value('mtls_gateway_connections_open', { listener: 'proxy' })).toEqual(expect.any(Number))
    expect(value('mtls_gateway_connections_max', { listener: 'proxy' })).toBe(4096)
    expect(value('mtls_gateway_upstream_requests_waiting', { endpoint: 'partner' })).toBe(0)
  })
})
