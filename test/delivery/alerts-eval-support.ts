/**
 * What the alert-evaluation tests share: the chart's rules as rendered, a live scrape labelled as
 * the chart's ServiceMonitor labels it, the rules that fire on two scrapes, and a client's HTTP/2
 * preface (answered 505 before routing).
 */
import { connect as tcpConnect } from 'node:net'
import { firing, type Scrape } from '../support/promql.js'
import { scrape } from '../ops/helpers.js'
import { buildRenderer, valuesFile, type Manifest, type Renderer } from './chart.js'
import type { Monitoring, RuleGroup } from './alerts-promtool.js'

export interface Rule {
  alert: string
  expr: string
}

/** The PrometheusRule's groups of the chart with its `full` values, and its ServiceMonitor's scrape interval (with `renderer`, or one of its own). */
export async function renderMonitoring(renderer?: Renderer): Promise<Monitoring> {
  const r = renderer ?? buildRenderer()
  try {
    const rendered = await r.render([valuesFile('full')])
    const interval = /^(\d+)s$/.exec(String(rendered.get('ServiceMonitor').spec.endpoints[0].interval))
    if (!interval) throw new Error('the ServiceMonitor\'s interval is not in seconds')
    return { groups: rendered.get('PrometheusRule').spec.groups as RuleGroup[], scrapeSeconds: Number(interval[1]) }
  } finally {
    if (!renderer) await r.cleanup()
  }
}

/** The rules of the groups, in order. */
export const rulesOf = (m: Monitoring): Rule[] => m.groups.flatMap((g) => g.rules as Manifest[] as Rule[])

/** The labels the ServiceMonitor's scrape adds: what the rules' selector matches. */
export function targetLabels(rules: readonly Rule[]): Record<string, string> {
  const labels: Record<string, string> = { pod: 'mtls-gateway-0', instance: '10.0.0.7:9090' }
  for (const r of rules) for (const m of r.expr.matchAll(/\b(job|namespace)="([^"]*)"/g)) labels[m[1] as string] = m[2] as string
  return labels
}

/** One scrape of the admin listener at `adminUrl`, with Prometheus's `up` and the target's labels. */
export async function liveScrape(adminUrl: string, rules: readonly Rule[]): Promise<Scrape> {
  const at = Date.now() / 1000
  const target = targetLabels(rules)
  // Prometheus writes `up` for each target it scraped: 1 for a scrape that answered.
  const up = { name: 'up', labels: {}, value: 1 }
  return { at, samples: [...(await scrape(adminUrl)), up].map((s) => ({ ...s, labels: { ...s.labels, ...target } })) }
}

/** A scrape like liveScrape's, taken once the clock is past `first`'s: rate() divides by the time between them. */
export async function laterScrape(adminUrl: string, rules: readonly Rule[], first: Scrape): Promise<Scrape> {
  while (Date.now() / 1000 <= first.at) await new Promise((resolve) => setTimeout(resolve, 10))
  return liveScrape(adminUrl, rules)
}

/** The alerts whose expression has a result on the two scrapes, in rule order. */
export const firedBy = (rules: readonly Rule[], s: readonly [Scrape, Scrape]): string[] => rules.filter((r) => firing(r.expr, s).length > 0).map((r) => r.alert)

/** Writes the HTTP/2 connection preface to the gateway's listener and reads its answer to the end. */
export function http2Preface(url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = tcpConnect(Number(port), hostname, () => socket.end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}
