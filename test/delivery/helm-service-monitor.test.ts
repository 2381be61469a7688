/**
 * The ServiceMonitor's scrape timing, judged by Prometheus itself: a scrapeTimeout longer than the
 * interval is a scrape config Prometheus refuses ("scrape timeout greater than scrape interval"),
 * so the Prometheus Operator rejects the ServiceMonitor and the gateway goes unscraped. The chart
 * refuses to render exactly those values (values.schema.json cannot compare two values), naming
 * both and the fix; `promtool check config` on the scrape config the rendered ServiceMonitor
 * becomes is the judge of every generated pair.
 */
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkConfig } from './alerts-promtool.js'
import { buildRenderer, valuesFile, type Renderer } from './chart.js'

let r: Renderer
const MINIMAL = valuesFile('minimal')

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

/** Values enabling the ServiceMonitor (with the admin-port peers the NetworkPolicy then needs). */
const monitored = (interval: string, scrapeTimeout: string): string =>
  stringify({ serviceMonitor: { enabled: true, interval, scrapeTimeout }, networkPolicy: { metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] } })

/** What Prometheus says of a scrape job with this interval and timeout: '' when it accepts it. */
function prometheusRefusal(interval: string, scrapeTimeout: string): string {
  const run = checkConfig({ scrape_configs: [{ job_name: 'serviceMonitor/gateway/egress-mtls-gateway/0', scrape_interval: interval, scrape_timeout: scrapeTimeout, static_configs: [{ targets: ['127.0.0.1:9090'] }] }] })
  return run.status === 0 ? '' : run.output
}

describe('serviceMonitor.scrapeTimeout and interval', () => {
  it('refuses a timeout longer than the interval, naming both and the fix (Prometheus refuses that scrape config)', async () => {
    expect(prometheusRefusal('10s', '30s')).toContain('scrape timeout greater than scrape interval')
    expect(await r.renderError([MINIMAL], monitored('10s', '30s'))).toContain(
      'serviceMonitor.scrapeTimeout (30s) is longer than serviceMonitor.interval (10s): Prometheus refuses a scrape whose timeout exceeds its interval',
    )
    expect(await r.renderError([MINIMAL], monitored('1m', '61s'))).toContain('Set scrapeTimeout to at most 1m, or raise the interval.')
  })

  it('renders a timeout up to the interval (equal included), as written', async () => {
    for (const [interval, timeout] of [['30s', '10s'], ['10s', '10s'], ['1m', '60s'], ['1s', '999ms']] as const) {
      expect(prometheusRefusal(interval, timeout), `${interval}/${timeout}`).toBe('')
      const endpoint = (await r.render([MINIMAL], monitored(interval, timeout))).get('ServiceMonitor').spec.endpoints[0]
      expect([endpoint.interval, endpoint.scrapeTimeout]).toEqual([interval, timeout])
    }
  })

  it('renders exactly the pairs promtool accepts (seeded, 60 pairs over ms, s, m, h)', async () => {
    const duration = fc.tuple(fc.integer({ min: 1, max: 7200 }), fc.constantFrom('ms', 's', 'm', 'h')).map(([n, unit]) => `${n}${unit}`)
    await fc.assert(
      fc.asyncProperty(duration, duration, async (interval, timeout) => {
        const refusal = prometheusRefusal(interval, timeout)
        const values = monitored(interval, timeout)
        if (refusal === '') expect((await r.render([MINIMAL], values)).get('ServiceMonitor').spec.endpoints[0].scrapeTimeout).toBe(timeout)
        else expect(await r.renderError([MINIMAL], values), refusal).toContain(`serviceMonitor.scrapeTimeout (${timeout}) is longer than serviceMonitor.interval (${interval})`)
      }),
      { seed: 0x5c4a9e, numRuns: 60 },
    )
  }, 120_000)
})
