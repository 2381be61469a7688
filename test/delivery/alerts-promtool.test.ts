/**
 * The chart's PrometheusRule as Prometheus itself reads it (promtool, Debian's prometheus package):
 * `promtool check rules` accepts the rendered groups (expressions, durations, label and annotation
 * templates) with the `full` values and with the chart's defaults. And the agreement check the
 * alert-evaluation tests use (promtool test rules against the test evaluator's verdict) fails on a
 * rule whose fault the evaluator cannot see: a rate window shorter than the scrape interval. With
 * the shipped `for` kept and a failure that goes on, each alert is pending until its `for` passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Scrape } from '../support/promql.js'
import { buildRenderer, valuesFile, type Renderer } from './chart.js'
import { firedBy, renderMonitoring, rulesOf, targetLabels } from './alerts-eval-support.js'
import { checkRules, testRules, type Monitoring, type RuleGroup } from './alerts-promtool.js'

let renderer: Renderer
let monitoring: Monitoring

beforeAll(async () => {
  renderer = buildRenderer()
  monitoring = await renderMonitoring(renderer)
}, 5 * 60_000)

afterAll(async () => {
  await renderer?.cleanup()
})

const groupsOf = async (files: string[], extra?: string): Promise<RuleGroup[]> => (await renderer.render(files, extra)).get('PrometheusRule').spec.groups as RuleGroup[]

/** Each rule with `edit` applied to the one alerting `alert`. */
const editRule = (groups: readonly RuleGroup[], alert: string, edit: (r: Record<string, unknown>) => Record<string, unknown>): RuleGroup[] =>
  groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === alert ? edit(r) : r)) }))

describe('promtool check rules on the rendered PrometheusRule', () => {
  it('accepts every rule with the full values (extra alert labels, a release label)', () => {
    const run = checkRules(monitoring.groups)
    expect(run.status, run.output).toBe(0)
    expect(run.output).toContain(`SUCCESS: ${rulesOf(monitoring).length} rules found`)
  })

  it('accepts every rule with the chart\'s defaults and a selector of its own', async () => {
    for (const extra of ['prometheusRule: { enabled: true }\n', 'prometheusRule: { enabled: true, selector: \'job=~"gw-.*",namespace!="kube-system"\' }\n']) {
      const run = checkRules(await groupsOf([valuesFile('minimal')], extra))
      expect(run.status, `${extra}${run.output}`).toBe(0)
    }
  })

  it('refuses an expression Prometheus cannot parse and an annotation template that does not parse, naming them', () => {
    const badExpr = checkRules(editRule(monitoring.groups, 'MtlsGatewayTargetDown', (r) => ({ ...r, expr: `${String(r.expr)})` })))
    expect(badExpr.status).toBe(1)
    expect(badExpr.output).toMatch(/"MtlsGatewayTargetDown": could not parse expression: .*unexpected right parenthesis/)
    const badTemplate = checkRules(editRule(monitoring.groups, 'MtlsGatewayTargetDown', (r) => ({ ...r, annotations: { summary: '{{ $labels.pod' } })))
    expect(badTemplate.status).toBe(1)
    expect(badTemplate.output).toMatch(/"MtlsGatewayTargetDown": annotation "summary": template: .*unclosed action/)
  })
})

describe('promtool test rules against the evaluator\'s verdict', () => {
  const rules = (): ReturnType<typeof rulesOf> => rulesOf(monitoring)
  /** Two scrapes a scrape interval apart: 5 of 10 calls of endpoint "partner" failed their upstream handshake between them. */
  const handshakeFailures = (): [Scrape, Scrape] => {
    const target = targetLabels(rules())
    const at = 1_800_000_000
    const scrape = (t: number, calls: number, failures: number): Scrape => ({
      at: t,
      samples: [
        { name: 'up', labels: target, value: 1 },
        { name: 'mtls_gateway_requests_total', labels: { ...target, endpoint: 'partner', method: 'GET', status_class: '2xx' }, value: calls },
        { name: 'mtls_gateway_upstream_tls_handshake_failures_total', labels: { ...target, endpoint: 'partner', reason: 'upstream_cert_untrusted' }, value: failures },
      ],
    })
    return [scrape(at, 0, 0), scrape(at + monitoring.scrapeSeconds, 10, 5)]
  }
  /** The same target's client certificate of endpoint "partner" expiring a day after the later scrape. */
  const expiringTomorrow = (): [Scrape, Scrape] => {
    const [earlier, later] = handshakeFailures()
    const expiry = { name: 'mtls_gateway_certificate_expiry_timestamp_seconds', labels: { ...targetLabels(rules()), endpoint: 'partner', kind: 'client' }, value: later.at + 86400 }
    return [{ at: earlier.at, samples: [earlier.samples[0]!, expiry] }, { at: later.at, samples: [later.samples[0]!, expiry] }]
  }

  /** The same target's listener certificate file (leaf or the intermediate it sends) expiring a day after the later scrape. */
  const listenerCertExpiringTomorrow = (): [Scrape, Scrape] => {
    const [earlier, later] = expiringTomorrow()
    const expiry = { name: 'mtls_gateway_tls_file_expiry_timestamp_seconds', labels: { ...targetLabels(rules()), key: 'listen.tls.cert' }, value: later.at + 86400 }
    return [{ at: earlier.at, samples: [earlier.samples[0]!, expiry] }, { at: later.at, samples: [later.samples[0]!, expiry] }]
  }

  it('pass when Prometheus fires what the evaluator does', () => {
    expect(firedBy(rules(), handshakeFailures())).toEqual(['MtlsGatewayUpstreamHandshakeFailures'])
    const run = testRules(monitoring, [{ name: 'handshake failures', scrapes: handshakeFailures() }])
    expect(run.status, run.output).toBe(0)
  })

  it('fail, naming the alert, on a rate window shorter than the scrape interval (the evaluator reads its two scrapes whatever the window)', () => {
    const shortWindow = editRule(monitoring.groups, 'MtlsGatewayUpstreamHandshakeFailures', (r) => ({ ...r, expr: String(r.expr).replaceAll('[5m]', '[1s]') }))
    const broken = { ...monitoring, groups: shortWindow }
    expect(firedBy(rulesOf(broken), handshakeFailures())).toEqual(['MtlsGatewayUpstreamHandshakeFailures'])
    const run = testRules(broken, [{ name: 'handshake failures', scrapes: handshakeFailures() }])
    expect(run.status).toBe(1)
    expect(run.output).toMatch(/FAILED:[\s\S]*alertname: MtlsGatewayUpstreamHandshakeFailures/)
  })

  it('keep the shipped `for` when the failure goes on: each alert fires once it held that long, and is pending before', () => {
    expect(firedBy(rules(), expiringTomorrow())).toEqual(['MtlsGatewayCertificateExpiringSoon', 'MtlsGatewayCertificateExpiryCritical'])
    expect(firedBy(rules(), listenerCertExpiringTomorrow())).toEqual(['MtlsGatewayTlsFileExpiringSoon', 'MtlsGatewayTlsFileExpiryCritical'])
    const scenarios = [
      { name: 'handshake failures', scrapes: handshakeFailures() },
      { name: 'a client certificate expiring tomorrow', scrapes: expiringTomorrow() },
      { name: 'a listener certificate file expiring tomorrow', scrapes: listenerCertExpiringTomorrow() },
    ]
    // 4.5 min: every `for` of 5 min or more pending; 10 min: the handshake alert and the critical expiries fire; 15 min: all.
    for (const held of [270, 600, 900]) {
      const run = testRules(monitoring, scenarios, held)
      expect(run.status, `held ${held} s:\n${run.output}`).toBe(0)
    }
  })
})
