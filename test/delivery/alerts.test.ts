/**
 * The PrometheusRule's alerts and the Grafana dashboard: every expression parses with
 * Prometheus's own PromQL grammar (@prometheus-io/lezer-promql), and every metric and label it
 * names is one that a live gateway really exports on /metrics (started in-process, with
 * traffic that makes the labelled series appear: a good mTLS call, an untrusted server, a
 * refused connection).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, get as httpsGet, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { parser } from '@prometheus-io/lezer-promql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../src/cli/gateway-root.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { writeDevPki } from '../../src/tls/index.js'
import { buildRenderer, valuesFile, type Manifest, type Renderer } from './chart.js'
import { refusingPort } from '../support/peers.js'
import { evaluate, type Scrape } from '../support/promql.js'
import { parseMetrics } from '../ops/helpers.js'

/** Labels Prometheus or the scrape adds (not the gateway), and histogram buckets. */
const SCRAPE_LABELS = new Set(['job', 'namespace', 'pod', 'instance', 'service', 'container', 'endpoint_port', 'le'])

/** Metrics an alert may name before the gateway exports them: none (keep it that way). */
const PENDING_METRICS = new Set<string>()

/**
 * Labels of families the test's gateway (SQLite store) registers without series: they exist only with
 * Redis Sentinel, and test/store/redis-sentinel-watch-sentinels.test.ts reads them with these labels.
 */
const LABELS_WITHOUT_LIVE_SERIES = new Map([['mtls_gateway_store_failover_watch_sentinels', ['state']]])

/** Series Prometheus itself writes for every scrape target (the target-down alerts use them). */
const PROMETHEUS_SERIES = new Set(['up'])

interface Parsed {
  metrics: string[]
  labels: string[]
  /** Each vector selector's metric and the labels its matchers name. */
  selectors: { metric: string; labels: string[] }[]
  errors: number[]
}

/** Parses PromQL; returns the metric names, label names it uses, and error positions. */
function parsePromQL(expr: string): Parsed {
  const out: Parsed = { metrics: [], labels: [], selectors: [], errors: [] }
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) out.errors.push(node.from)
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') out.metrics.push(expr.slice(node.from, node.to))
      if (node.name === 'LabelName') out.labels.push(expr.slice(node.from, node.to))
      if (node.name === 'VectorSelector') {
        const name = node.node.getChild('Identifier')
        const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []
        if (name) out.selectors.push({ metric: expr.slice(name.from, name.to), labels: matchers.flatMap((m) => { const l = m.getChild('LabelName'); return l ? [expr.slice(l.from, l.to)] : [] }) })
      }
    },
  })
  return out
}

/** Grafana's variables replaced by values PromQL accepts. */
function grafanaToPromQL(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replace(/\$\{?(\w+)\}?/g, 'x')
}

interface Exported {
  names: Set<string>
  labels: Map<string, Set<string>>
}

function exported(text: string): Exported {
  const names = new Set<string>()
  const labels = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string]
      names.add(name)
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} /.exec(line)
    if (sample) {
      const set = labels.get(sample[1] as string) ?? new Set<string>()
      for (const m of (sample[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(m[1] as string)
      labels.set(sample[1] as string, set)
    }
  }
  return { names, labels }
}

let rules: { alert: string; expr: string; for?: string; labels: Record<string, string> }[] = []
let panels: { title: string; expr: string }[] = []
let tracePanel: Manifest | undefined
let live: Exported
/** The live scrape's samples as Prometheus stores them (with the scrape's namespace and job), and the dashboard's panels. */
let liveScrape: Scrape
let dashPanels: Manifest[] = []
let dir: string
let renderer: Renderer
let gw: RunningGateway | undefined
const backends: Server[] = []

function backend(cert: string, key: string, ca: string): Promise<number> {
  const s = createServer({ cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('ok'))
  backends.push(s)
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)))
}

/** A CRL of the root, valid for a week, made by `openssl ca -gencrl`; returns its path. */
function rootCrl(dir: string, cert: string, key: string): string {
  writeFileSync(join(dir, 'index.txt'), '')
  writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(dir, 'index.txt')}\ndefault_md = sha256\ndefault_crl_days = 7\n`)
  const out = join(dir, 'root.crl')
  execFileSync('openssl', ['ca', '-gencrl', '-config', join(dir, 'ca.cnf'), '-cert', cert, '-keyfile', key, '-out', out], { stdio: 'pipe' })
  return out
}

/** GET over HTTPS trusting the CA in `caFile` (the admin listener's). */
function httpsText(url: string, caFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca: readFileSync(caFile), servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    }).on('error', reject)
  })
}

beforeAll(async () => {
  // One renderer for the file: the tests render other values with it.
  renderer = buildRenderer()
  const full = await renderer.render([valuesFile('full')])
  rules = (full.get('PrometheusRule').spec.groups as Manifest[]).flatMap((g) => g.rules)
  const dash = JSON.parse(full.get('ConfigMap', 'egress-gateway-dashboard').data['mtls-gateway.json'] as string) as { panels: Manifest[]; templating: { list: Manifest[] } }
  // PromQL targets only: the trace panel queries the tracing data source (TraceQL).
  dashPanels = dash.panels
  panels = dash.panels.flatMap((p) => ((p.targets ?? []) as Manifest[]).filter((t) => t.expr !== undefined).map((t) => ({ title: p.title as string, expr: t.expr as string })))
  tracePanel = dash.panels.find((p) => p.type === 'table')
  for (const v of dash.templating.list) {
    const q = /^label_values\((.*), *\w+\)$/.exec(String(v.definition ?? ''))
    if (q) panels.push({ title: `variable ${v.name}`, expr: q[1] as string })
  }
  dir = mkdtempSync(join(tmpdir(), 'alerts-'))
  const good = await writeDevPki({ dir: join(dir, 'good') })
  const other = await writeDevPki({ dir: join(dir, 'other') })
  const goodPort = await backend(good.serverCert, good.serverKey, good.rootCert)
  const untrustedPort = await backend(other.serverCert, other.serverKey, other.rootCert)
  const closedPort = await refusingPort()
  const endpoint = (name: string, port: number, extraTls = ''): string => `
  - name: ${name}
    url: https://api.partner.test:${port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls:
      cert: ${good.clientCert}
      key: ${good.clientKey}
      intermediates: ${good.intermediateCert}
      roots: ${good.rootCert}${extraTls}`
  // A CRL on the endpoint that is refused anyway (its handshake never runs): its nextUpdate series appears.
  const crl = rootCrl(join(dir, 'good'), good.rootCert, good.rootKey)
  // The admin listener over TLS: its certificate file is a TLS file with an expiry series.
  const admin = `admin:\n  tls: { cert: ${good.serverCert}, key: ${good.serverKey} }\n`
  writeFileSync(join(dir, 'gateway.yaml'), `${admin}callers:\n  required: false\nstore:\n  kind: sqlite\n  file: ${join(dir, 'gateway.db')}\nendpoints:${endpoint('partner', goodPort)}${endpoint('untrusted', untrustedPort)}${endpoint('closed', closedPort, `\n      crl: ${crl}`)}\n`)
  const ops = createOps({ log: createLog({ level: 'silent' }), admin: { host: '127.0.0.1', port: 0 }, watch: false })
  gw = await startGateway({ configFile: join(dir, 'gateway.yaml'), listen: { host: '127.0.0.1', port: 0 }, ops })
  for (const ep of ['partner', 'untrusted', 'closed']) await (await fetch(`${gw.url}/proxy/${ep}/x`)).text()
  const adminUrl = gw.ops?.adminUrl
  if (!adminUrl) throw new Error('the admin listener did not start')
  const text = await httpsText(`${adminUrl}/metrics`, good.rootCert)
  live = exported(text)
  liveScrape = { at: Date.now() / 1000, samples: parseMetrics(text).map((x) => ({ ...x, labels: { ...x.labels, namespace: 'ns', job: 'gw' } })) }
}, 5 * 60_000)

afterAll(async () => {
  await renderer?.cleanup()
  await gw?.close()
  for (const s of backends) s.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('PrometheusRule alerts', () => {
  it('cover certificate expiry (14 and 3 days), handshake failures, 5xx ratio, reload failures and the store', () => {
    expect(rules.map((x) => x.alert)).toEqual([
      'MtlsGatewayTargetDown',
      'MtlsGatewayTargetAbsent',
      'MtlsGatewayCertificateExpiringSoon',
      'MtlsGatewayCertificateExpiryCritical',
      'MtlsGatewayTlsFileExpiringSoon',
      'MtlsGatewayTlsFileExpiryCritical',
      'MtlsGatewayCrlNextUpdateSoon',
      'MtlsGatewayCertificateNotYetValid',
      'MtlsGatewayTlsFileNotYetValid',
      'MtlsGatewayEndpointDegraded',
      'MtlsGatewayUpstreamHandshakeFailures',
      'MtlsGatewayHighErrorRatio',
      'MtlsGatewayApiErrorRatio',
      'MtlsGatewayConfigReloadFailed',
      'MtlsGatewayWorkerRestarts',
      'MtlsGatewayCallerAuthFailureBurst',
      'MtlsGatewayEgressRefusals',
      'MtlsGatewayLogLinesDropped',
      'MtlsGatewayTraceSpansDropped',
      'MtlsGatewayConnectionsNearCap',
      'MtlsGatewayUpstreamPoolSaturated',
      'MtlsGatewayStoreUnreachable',
      'MtlsGatewayStoreMayEvict',
      'MtlsGatewayStoreFailoverWatchRefused',
    ])
    const expr = (alert: string): string => rules.find((x) => x.alert === alert)?.expr ?? ''
    expect(expr('MtlsGatewayCertificateExpiringSoon')).toContain('< 14 * 86400')
    expect(expr('MtlsGatewayCertificateExpiryCritical')).toContain('< 3 * 86400')
    expect(expr('MtlsGatewayTlsFileExpiringSoon')).toContain('< 14 * 86400')
    expect(expr('MtlsGatewayTlsFileExpiryCritical')).toContain('< 3 * 86400')
    expect(expr('MtlsGatewayCrlNextUpdateSoon')).toContain('< 6 * 3600')
    expect(expr('MtlsGatewayTargetAbsent')).toMatch(/^absent\(up\{job="[^"]+",namespace="[^"]+"\}\)$/)
    for (const rule of rules) expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity)
    // full.yaml's additionalAlertLabels on every alert, beside its own severity.
    for (const rule of rules) expect(rule.labels.team, rule.alert).toBe('platform')
  })

  it('additionalAlertLabels may replace the severity of every alert (one key: it was written twice, a duplicate strict YAML readers refuse)', async () => {
    const paged = await renderer.render([valuesFile('full')], 'prometheusRule:\n  additionalAlertLabels:\n    team: platform\n    severity: page\n')
    const all = (paged.get('PrometheusRule').spec.groups as Manifest[]).flatMap((g) => g.rules as Manifest[])
    expect(all).toHaveLength(rules.length)
    for (const rule of all) expect(rule.labels, String(rule.alert)).toEqual({ severity: 'page', team: 'platform' })
  })

  it('parse with the PromQL grammar', () => {
    for (const rule of rules) expect(parsePromQL(rule.expr).errors, `${rule.alert}: ${rule.expr}`).toEqual([])
    expect(parsePromQL('sum(rate(x[5m])').errors.length).toBeGreaterThan(0) // the parser does refuse bad PromQL
  })

  it('name only metrics and labels that the gateway exports on /metrics', () => {
    for (const rule of rules) {
      const { metrics, labels } = parsePromQL(rule.expr)
      expect(metrics.length, rule.alert).toBeGreaterThan(0)
      for (const m of metrics) {
        if (PROMETHEUS_SERIES.has(m)) continue
        if (PENDING_METRICS.has(m) && !live.names.has(m)) {
          console.warn(`TODO(lead): ${rule.alert} uses ${m}, which the gateway does not export yet (see PENDING_METRICS)`)
          continue
        }
        expect(live.names, `${rule.alert} uses ${m}`).toContain(m)
      }
      // Each selector's matchers name labels its own metric has; grouping and other labels, one the expression's metrics have.
      const { selectors } = parsePromQL(rule.expr)
      for (const s of selectors.filter((x) => !PROMETHEUS_SERIES.has(x.metric) && live.names.has(x.metric))) {
        const have = new Set([...(live.labels.get(s.metric) ?? []), ...(LABELS_WITHOUT_LIVE_SERIES.get(s.metric) ?? [])])
        for (const l of s.labels.filter((x) => !SCRAPE_LABELS.has(x))) expect(have, `${rule.alert}: label ${l} of ${s.metric}`).toContain(l)
      }
      const anyHas = (l: string): boolean => metrics.some((m) => live.labels.get(m)?.has(l) === true || LABELS_WITHOUT_LIVE_SERIES.get(m)?.includes(l) === true)
      for (const l of labels.filter((x) => !SCRAPE_LABELS.has(x))) expect(anyHas(l), `${rule.alert}: label ${l} on none of ${metrics.join(', ')}`).toBe(true)
    }
  })
})

describe('Grafana dashboard', () => {
  it('shows requests, latency percentiles, handshake failures by reason, certificate days left and reloads', () => {
    const all = panels.map((p) => p.expr).join('\n')
    expect(all).toContain('rate(mtls_gateway_requests_total')
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(mtls_gateway_request_duration_seconds_bucket/)
    expect(all).toMatch(/sum by \(endpoint, reason\) \(rate\(mtls_gateway_upstream_tls_handshake_failures_total/)
    expect(all).toMatch(/mtls_gateway_certificate_expiry_timestamp_seconds\{[^}]*\} - time\(\)\) \/ 86400/)
    expect(all).toMatch(/min by \(key\) \(mtls_gateway_tls_file_expiry_timestamp_seconds\{[^}]*\} - time\(\)\) \/ 86400/)
    expect(all).toContain('mtls_gateway_config_reloads_total')
  })

  it('shows caller auth failures, egress refusals, tunnels, the store, process CPU and memory, with exemplars on the p99', () => {
    const all = panels.map((p) => p.expr).join('\n')
    for (const m of ['mtls_gateway_caller_auth_failures_total', 'mtls_gateway_egress_refusals_total', 'mtls_gateway_connect_tunnels_total', 'mtls_gateway_store_up', 'mtls_gateway_relayed_bytes_total']) expect(all).toContain(m)
    expect(all).toContain('rate(process_cpu_seconds_total{')
    expect(all).toContain('process_resident_memory_bytes{')
  })

  it('lists recent failed traces with trace-id links when a tracing data source is configured, and not otherwise', async () => {
    expect(tracePanel).toMatchObject({ type: 'table', datasource: { type: 'tempo', uid: 'tempo' } })
    const target = (tracePanel?.targets as Manifest[])[0]
    expect(target).toMatchObject({ queryType: 'traceql', query: '{resource.service.name="mtls-gateway" && status=error}' })
    const link = JSON.stringify(tracePanel?.fieldConfig)
    expect(link).toContain('traceID')
    expect(link).toContain('${__value.raw}')
    const without = await renderer.render([valuesFile('full')], 'grafanaDashboard:\n  tracing:\n    datasourceUid: ""\n')
    const dash = JSON.parse(without.get('ConfigMap', 'egress-gateway-dashboard').data['mtls-gateway.json'] as string) as { panels: Manifest[] }
    expect(dash.panels.filter((p) => p.type === 'table')).toEqual([])
    expect(dash.panels.some((p) => p.title === 'Process CPU, per pod')).toBe(true)
  })

  it('draws only the handshake-failure reasons that occur (each endpoint\'s reasons exist at 0 from the start), as the refusal panels do, evaluated on the live scrape', () => {
    const panel = dashPanels.find((p) => /handshake failures/i.test(String(p.title)))
    const expr = String((panel?.targets as Manifest[] | undefined)?.[0]?.expr).replaceAll('$namespace', 'ns').replaceAll('$job', 'gw').replaceAll('$endpoint', '.*').replaceAll('$__rate_interval', '5m')
    const names = (v: ReturnType<typeof evaluate>): string[] => (v.kind === 'vector' ? v.series.map((x) => `${x.labels.endpoint} ${x.labels.reason}`) : [String(v.kind)])
    // The live scrape holds each configured endpoint's ten reasons, one counted: none rises between two reads of it.
    expect(liveScrape.samples.filter((x) => x.name === 'mtls_gateway_upstream_tls_handshake_failures_total').length).toBeGreaterThanOrEqual(30)
    expect(names(evaluate(expr, [liveScrape, liveScrape]))).toEqual([])
    const failing = (x: Scrape['samples'][number]): boolean => x.name === 'mtls_gateway_upstream_tls_handshake_failures_total' && x.labels.endpoint === 'untrusted' && x.labels.reason === 'upstream_cert_untrusted'
    const later: Scrape = { at: liveScrape.at + 30, samples: liveScrape.samples.map((x) => (failing(x) ? { ...x, value: x.value + 3 } : x)) }
    expect(names(evaluate(expr, [liveScrape, later]))).toEqual(['untrusted upstream_cert_untrusted'])
  })

  it('shows hours to each endpoint\'s CRL nextUpdate, red below the MtlsGatewayCrlNextUpdateSoon threshold, evaluated on the live scrape', async () => {
    const crl = dashPanels.find((p) => p.title === 'CRL next update per endpoint')
    const expr = String((crl?.targets as Manifest[] | undefined)?.[0]?.expr)
    expect(expr).toMatch(/^min by \(endpoint\) \(mtls_gateway_crl_next_update_timestamp_seconds\{[^}]*\} - time\(\)\) \/ 3600$/)
    const steps = (p: Manifest | undefined): unknown => p?.fieldConfig.defaults.thresholds.steps
    expect(steps(crl)).toEqual([{ color: 'red', value: null }, { color: 'green', value: 6 }])
    // Only "closed" has a CRL (nextUpdate a week after `openssl ca -gencrl`): one series, about 168 hours.
    const v = evaluate(expr.replaceAll('$namespace', 'ns').replaceAll('$job', 'gw').replaceAll('$endpoint', '.*'), [liveScrape, liveScrape])
    expect(v.kind === 'vector' ? v.series.map((s) => s.labels.endpoint) : v).toEqual(['closed'])
    const hours = v.kind === 'vector' ? (v.series[0]?.value ?? NaN) : NaN
    expect(hours).toBeGreaterThan(7 * 24 - 1)
    expect(hours).toBeLessThanOrEqual(7 * 24)
    const other = await renderer.render([valuesFile('full')], 'prometheusRule:\n  crlNextUpdate:\n    hours: 12\n')
    const dash = JSON.parse(other.get('ConfigMap', 'egress-gateway-dashboard').data['mtls-gateway.json'] as string) as { panels: Manifest[] }
    expect(steps(dash.panels.find((p) => p.title === 'CRL next update per endpoint'))).toEqual([{ color: 'red', value: null }, { color: 'green', value: 12 }])
  })

  it('shows days since each TLS file became valid, red below zero where MtlsGatewayTlsFileNotYetValid fires, evaluated on the live scrape', () => {
    const panel = dashPanels.find((p) => p.title === 'TLS file days since valid')
    const expr = String((panel?.targets as Manifest[] | undefined)?.[0]?.expr)
    expect(expr).toMatch(/^\(time\(\) - max by \(key\) \(mtls_gateway_tls_file_not_before_timestamp_seconds\{[^}]*\}\)\) \/ 86400$/)
    expect(panel?.fieldConfig.defaults.thresholds.steps).toEqual([{ color: 'red', value: null }, { color: 'green', value: 0 }])
    // The alert's own series and grouping: a negative value here is the alert's positive one.
    expect(rules.find((x) => x.alert === 'MtlsGatewayTlsFileNotYetValid')?.expr).toContain('max by (namespace, key) (mtls_gateway_tls_file_not_before_timestamp_seconds{')
    // The live gateway's admin listener certificate: valid already (a dev PKI certificate), so zero days or more, under a day.
    const v = evaluate(expr.replaceAll('$namespace', 'ns').replaceAll('$job', 'gw'), [liveScrape, liveScrape])
    expect(v.kind === 'vector' ? v.series.map((s) => s.labels.key) : v).toEqual(['admin.tls.cert'])
    const days = v.kind === 'vector' ? (v.series[0]?.value ?? NaN) : NaN
    expect(days).toBeGreaterThanOrEqual(0)
  })

  it('colours certificate days left at the expiry alerts\' own thresholds, as the chart values set them', async () => {
    const panelIn = (dash: { panels: Manifest[] }): Manifest | undefined => dash.panels.find((p) => p.title === 'Certificate days left per endpoint')
    const steps = (p: Manifest | undefined): unknown => p?.fieldConfig.defaults.thresholds.steps
    expect(steps(panelIn({ panels: dashPanels }))).toEqual([{ color: 'red', value: null }, { color: 'orange', value: 3 }, { color: 'green', value: 14 }])
    // The TLS files on the same bars: the live gateway's admin listener certificate, about as many days left as it has.
    const tlsFiles = String((panelIn({ panels: dashPanels })?.targets as Manifest[] | undefined)?.find((t) => String(t.expr).includes('tls_file'))?.expr)
    const v = evaluate(tlsFiles.replaceAll('$namespace', 'ns').replaceAll('$job', 'gw'), [liveScrape, liveScrape])
    expect(v.kind === 'vector' ? v.series.map((s) => s.labels.key) : v).toEqual(['admin.tls.cert'])
    expect(v.kind === 'vector' ? v.series[0]?.value : NaN).toBeGreaterThan(1)
    const other = await renderer.render([valuesFile('full')], 'prometheusRule:\n  certificateExpiry:\n    warningDays: 30\n    criticalDays: 7\n')
    const dash = JSON.parse(other.get('ConfigMap', 'egress-gateway-dashboard').data['mtls-gateway.json'] as string) as { panels: Manifest[] }
    expect(steps(panelIn(dash))).toEqual([{ color: 'red', value: null }, { color: 'orange', value: 7 }, { color: 'green', value: 30 }])
    expect(String(panelIn(dash)?.description)).toContain("MtlsGatewayCertificateExpiryCritical's 7 days, orange below MtlsGatewayCertificateExpiringSoon's 30.")
    const rules = JSON.stringify(other.get('PrometheusRule'))
    expect(rules).toContain('< 30 * 86400')
    expect(rules).toContain('< 7 * 86400')
  })

  it('lays its panels out without overlaps, each with its own id', () => {
    const ids = dashPanels.map((p) => p.id as number)
    expect(new Set(ids).size).toBe(ids.length)
    const boxes = dashPanels.map((p) => ({ title: p.title as string, ...(p.gridPos as { x: number; y: number; w: number; h: number }) }))
    for (const [i, a] of boxes.entries()) {
      expect(a.x + a.w, a.title).toBeLessThanOrEqual(24)
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false)
      }
    }
  })

  it('queries parse as PromQL and use exported metrics and labels', () => {
    expect(panels.length).toBeGreaterThan(10)
    for (const p of panels) {
      const expr = grafanaToPromQL(p.expr)
      const parsed = parsePromQL(expr)
      expect(parsed.errors, `${p.title}: ${expr}`).toEqual([])
      for (const m of parsed.metrics) {
        expect(live.names, `${p.title} uses ${m}`).toContain(m)
        const base = m.replace(/_bucket$/, '')
        const have = new Set([...(live.labels.get(m) ?? []), ...(live.labels.get(base) ?? [])])
        for (const l of parsed.labels.filter((x) => !SCRAPE_LABELS.has(x))) expect(have, `${p.title}: label ${l} of ${m}`).toContain(l)
      }
    }
  })
})
