/**
 * The ratio alerts' traffic floor (prometheusRule.errorRatio.minRequestRate and
 * handshakeFailureRatio.minRequestRate, requests per second over the 5 min rate window): a trickle,
 * one failed call out of one, is a 100 % ratio but pages nothing; a burst above the floor fires, once
 * per endpoint however many pods (or `--workers` processes, whose series the primary sums) carry it;
 * the floor set to 0 restores the ratio alone. Prometheus's promtool fires what the evaluator does
 * on every scenario and on seeded generated traffic around the floor and the ratio, so the floor is
 * judged on Prometheus's extrapolated rate, not a test's idea of it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Scrape } from '../support/promql.js'
import { firing } from '../support/promql.js'
import { send } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { startPartnerWorkers, type PartnerWorkers } from '../ops/helpers.js'
import { buildRenderer, CHART, valuesFile, type Renderer } from './chart.js'
import { firedBy, laterScrape, liveScrape, renderMonitoring, rulesOf, targetLabels, type Rule } from './alerts-eval-support.js'
import { expectPrometheusAgrees, type Monitoring, type RuleGroup, type Scenario } from './alerts-promtool.js'

let renderer: Renderer
let monitoring: Monitoring
let rules: Rule[]

beforeAll(async () => {
  renderer = buildRenderer()
  monitoring = await renderMonitoring(renderer)
  rules = rulesOf(monitoring)
}, 5 * 60_000)

afterAll(async () => {
  await renderer?.cleanup()
})

type Counts = Record<string, number | readonly [number, number]>
/**
 * Two scrapes a scrape interval apart: every series starts at 0 and ends at its count (or goes
 * from the first of a pair to the second). A key is
 * `<endpoint> <status_class>` (requests) or `<endpoint> handshake` (handshake failures), with
 * `@<pod>` for a second pod of the release.
 */
function scrapes(counts: Counts): [Scrape, Scrape] {
  const target = targetLabels(rules)
  const podOf = (key: string): string => key.split('@')[1] ?? (target.pod as string)
  const pods = [...new Set(Object.keys(counts).map(podOf))]
  const samples = (at: 0 | 1): Scrape['samples'] => [
    ...pods.map((pod) => ({ name: 'up', labels: { ...target, pod }, value: 1 })),
    ...Object.entries(counts).map(([key, n]) => {
      const [endpoint, kind] = (key.split('@')[0] as string).split(' ') as [string, string]
      const labels = { ...target, pod: podOf(key), endpoint }
      const value = typeof n === 'number' ? (at === 0 ? 0 : n) : n[at]
      return kind === 'handshake'
        ? { name: 'mtls_gateway_upstream_tls_handshake_failures_total', labels: { ...labels, reason: 'upstream_cert_untrusted' }, value }
        : { name: 'mtls_gateway_requests_total', labels: { ...labels, method: 'GET', status_class: kind }, value }
    }),
  ]
  const at = 1_800_000_000
  return [{ at, samples: samples(0) }, { at: at + monitoring.scrapeSeconds, samples: samples(1) }]
}

const ERROR_RATIOS = ['MtlsGatewayUpstreamHandshakeFailures', 'MtlsGatewayHighErrorRatio', 'MtlsGatewayApiErrorRatio']
const ratioAlertsFired = (r: readonly Rule[], s: readonly [Scrape, Scrape]): string[] => firedBy(r, s).filter((a) => ERROR_RATIOS.includes(a))

describe('the ratio alerts\' traffic floor (default 0.02 requests per second: 6 in the 5 min window)', () => {
  it('each ratio rule needs its ratio and the traffic, both summed by namespace and endpoint', () => {
    for (const alert of ERROR_RATIOS) {
      const expr = rules.find((r) => r.alert === alert)?.expr ?? ''
      expect(expr, alert).toMatch(/\) > 0\.05\nand\nsum by \(namespace, endpoint\) \(rate\(mtls_gateway_requests_total\{[^}]*\}\[5m\]\)\) >= 0\.02$/)
      // The floor's traffic is the ratio's own denominator.
      const [ratio, floor] = expr.split('\nand\n') as [string, string]
      expect(ratio).toContain(floor.replace(/ >= 0\.02$/, ''))
    }
  })

  it('a trickle (1 failing call of 1, or 5 of 5) fires nothing; a burst above the floor fires each alert once', () => {
    const judged: Scenario[] = []
    const fires = (counts: Counts, alerts: string[]): void => {
      const s = scrapes(counts)
      expect(ratioAlertsFired(rules, s), JSON.stringify(counts)).toEqual(alerts)
      judged.push({ name: `${JSON.stringify(counts)}: ${alerts.join(', ') || 'no alert'}`, scrapes: s })
    }
    for (const n of [1, 5]) {
      fires({ 'partner 5xx': n }, [])
      fires({ '_gateway 5xx': n }, [])
      fires({ 'partner 2xx': n, 'partner handshake': n }, [])
    }
    fires({ 'partner 5xx': 10 }, ['MtlsGatewayHighErrorRatio'])
    fires({ '_gateway 5xx': 10 }, ['MtlsGatewayApiErrorRatio'])
    fires({ 'partner 2xx': 10, 'partner handshake': 5 }, ['MtlsGatewayUpstreamHandshakeFailures'])
    // Healthy traffic of the endpoint lifts a trickle of failures over the floor: the ratio decides then.
    fires({ 'partner 2xx': 20, 'partner 5xx': 2 }, ['MtlsGatewayHighErrorRatio'])
    fires({ 'partner 2xx': 200, 'partner 5xx': 2 }, [])
    // Another endpoint's traffic does not: the floor is the failing endpoint's own.
    fires({ 'other 2xx': 500, 'partner 5xx': 1 }, [])
    fires({ '_none 5xx': 500, '_gateway 5xx': 1 }, [])
    expectPrometheusAgrees(monitoring, judged)
  })

  it('two pods each under the floor fire once for the endpoint when their sum is over it', () => {
    const s = scrapes({ 'partner 5xx': 4, 'partner 5xx@mtls-gateway-1': 4 })
    expect(firedBy(rules, scrapes({ 'partner 5xx': 4 }))).toEqual([])
    const high = rules.find((r) => r.alert === 'MtlsGatewayHighErrorRatio')?.expr ?? ''
    expect(firing(high, s).map((x) => x.labels)).toEqual([{ namespace: targetLabels(rules).namespace, endpoint: 'partner' }])
    expectPrometheusAgrees(monitoring, [{ name: 'two pods under the floor each', scrapes: s }])
  })

  it('with minRequestRate 0 a trickle fires again (the ratio alone, as before the floor); a negative one is refused', async () => {
    const extra = 'prometheusRule: { errorRatio: { minRequestRate: 0 }, handshakeFailureRatio: { minRequestRate: 0 } }\n'
    const groups = (await renderer.render([valuesFile('full')], extra)).get('PrometheusRule').spec.groups as RuleGroup[]
    const noFloor = { ...monitoring, groups }
    const r = rulesOf(noFloor)
    const trickles: Scenario[] = [
      { name: 'a 5xx of 1', scrapes: scrapes({ 'partner 5xx': 1 }) },
      { name: 'an API 5xx of 1', scrapes: scrapes({ '_gateway 5xx': 1 }) },
      { name: 'a handshake failure of 1', scrapes: scrapes({ 'partner 2xx': 1, 'partner handshake': 1 }) },
    ]
    expect(trickles.map((t) => ratioAlertsFired(r, t.scrapes))).toEqual([['MtlsGatewayHighErrorRatio'], ['MtlsGatewayApiErrorRatio'], ['MtlsGatewayUpstreamHandshakeFailures']])
    expectPrometheusAgrees(noFloor, trickles)
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const withFloor = async (floor: number): Promise<unknown> => {
      const file = join(renderer.dir, `floor-${floor}.yaml`)
      writeFileSync(file, `prometheusRule: { errorRatio: { minRequestRate: ${floor} } }\n`)
      return renderer.values([valuesFile('full'), file])
    }
    expect(validate(await withFloor(0)), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(await withFloor(-1))).toBe(false)
    expect(validate.errors?.map((e) => e.instancePath)).toEqual(['/prometheusRule/errorRatio/minRequestRate'])
  })
})

describe('the floor against Prometheus on generated traffic', () => {
  it('promtool fires, label for label, what the evaluator does on counters near the floor and the ratio (seeded)', () => {
    const keys = ['partner 2xx', 'partner 5xx', 'partner handshake', 'partner 5xx@mtls-gateway-1', '_gateway 2xx', '_gateway 5xx'] as const
    // A counter from 0 to 40 that rises by up to 12 in the interval, or was reset (a restarted pod).
    const counter = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -3, max: 12 })).map(([a, d]) => [a, d < 0 ? -d : a + d] as const)
    const traffic = fc.dictionary(fc.constantFrom(...keys), counter, { minKeys: 1, maxKeys: keys.length })
    // Thresholds nudged both ways: a case whose verdict turns on the last bit of a float is left out.
    const nudged = (f: number): Rule[] => rules.map((r) => ({ ...r, expr: r.expr.replace(/([<>]=?) (\d+(?:\.\d+)?)$/gm, (_, op: string, n: string) => `${op} ${Number(n) * f}`) }))
    const [above, below] = [nudged(1 + 1e-9), nudged(1 - 1e-9)]
    const judged: Scenario[] = []
    let firedOnce = 0
    // Cases generated here and checked together below (one promtool run), hence fc.sample: the first
    // 80 the seed gives whose verdict does not turn on a float's last bit.
    const decided = fc.sample(traffic, { seed: 3301, numRuns: 200 }).map((counts) => ({ counts, s: scrapes(counts) })).filter(({ s }) => ratioAlertsFired(above, s).join() === ratioAlertsFired(below, s).join())
    for (const { counts, s } of decided.slice(0, 80)) {
      const alerts = ratioAlertsFired(rules, s)
      if (alerts.length > 0) firedOnce++
      judged.push({ name: `${JSON.stringify(counts)}: ${alerts.join(', ') || 'no alert'}`, scrapes: s })
    }
    expect(judged).toHaveLength(80)
    // Both verdicts occur among the cases, so agreeing is not agreeing on silence.
    expect(firedOnce).toBeGreaterThan(5)
    expect(judged.length - firedOnce).toBeGreaterThan(5)
    expectPrometheusAgrees(monitoring, judged)
  })
})

describe('the floor on a live `serve --workers 2` (the primary sums its workers\' series)', () => {
  let w: PartnerWorkers
  let adminUrl: string
  let first: Scrape

  beforeAll(async () => {
    w = await startPartnerWorkers()
    adminUrl = await adminUrlOf(w.gp)
    first = await liveScrape(adminUrl, rules)
    // The backend gone: each call is the gateway's 502 under endpoint "partner".
    await w.upstream.close()
  }, 2 * 60_000)

  afterAll(async () => {
    await w?.stop()
  })

  /** The endpoint's 5xx over its method series, and whether any series says which worker counted it. */
  const partner5xx = (s: Scrape): [number, boolean] => {
    const series = s.samples.filter((x) => x.name === 'mtls_gateway_requests_total' && x.labels.endpoint === 'partner' && x.labels.status_class === '5xx')
    return [series.reduce((n, x) => n + x.value, 0), series.some((x) => Object.keys(x.labels).some((l) => /worker|pid/.test(l)))]
  }

  it('one failed call pages nothing; ten fire the endpoint\'s ratio alert once', async () => {
    expect((await send(w.gp.url, '/proxy/partner/one')).status).toBe(502)
    const trickle = await laterScrape(adminUrl, rules, first)
    expect(partner5xx(trickle)).toEqual([1, false])
    expect(ratioAlertsFired(rules, [first, trickle])).toEqual([])
    for (let i = 0; i < 9; i++) expect((await send(w.gp.url, `/proxy/partner/b${i}`)).status).toBe(502)
    const burst = await laterScrape(adminUrl, rules, trickle)
    // The primary's sum over both workers, with no worker label.
    expect(partner5xx(burst)).toEqual([10, false])
    expect(ratioAlertsFired(rules, [first, burst])).toEqual(['MtlsGatewayHighErrorRatio'])
    expectPrometheusAgrees(monitoring, [{ name: 'workers: a trickle', scrapes: [first, trickle] }, { name: 'workers: a burst', scrapes: [first, burst] }])
  })
})
