/**
 * Stock dashboards and alerts for Node.js services read the unprefixed `process_*` and
 * `nodejs_*` families (prom-client's defaults, as the Node.js application dashboards and the
 * process-exporter alerts expect). Their usual expressions parse with Prometheus's grammar,
 * every metric and label they name is in a live scrape of the gateway, and the ones the test
 * evaluator knows give values over two real scrapes.
 */
import { parser } from '@prometheus-io/lezer-promql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { evaluate, type Scrape } from '../support/promql.js'
import { get, parseMetrics, startOpsGateway, type OpsGateway } from './helpers.js'

/** From the Node.js application dashboards and process alerts people import as they are. */
const STOCK = [
  'rate(process_cpu_seconds_total[1m])',
  'irate(process_cpu_user_seconds_total[2m]) * 100',
  'irate(process_cpu_system_seconds_total[2m]) * 100',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds / process_max_fds',
  'time() - process_start_time_seconds',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_used_bytes{space="old"}',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'sum by (type) (nodejs_active_handles)',
  'rate(nodejs_gc_duration_seconds_sum[1m])',
  'sum by (kind) (rate(nodejs_gc_duration_seconds_count[1m]))',
  'nodejs_version_info',
  'max by (version) (mtls_gateway_build_info)',
]
/** Those the test evaluator can compute (no irate, no histogram series that may be empty). */
const EVALUATED = [
  'rate(process_cpu_seconds_total[1m])',
  'process_resident_memory_bytes',
  'process_open_fds / process_max_fds',
  'time() - process_start_time_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_active_handles_total',
  'max by (version) (mtls_gateway_build_info)',
]

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let text: string
let scrapes: [Scrape, Scrape]

const scrapeNow = async (): Promise<Scrape> => {
  const r = await get(`${g.adminUrl}/metrics`)
  return { at: Date.now() / 1000, samples: parseMetrics(r.text) }
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = clientTls(pki)
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`, { watch: false })
  const first = await scrapeNow()
  for (let i = 0; i < 5; i++) expect((await send(g.gw.url, `/proxy/partner/${i}`)).status).toBe(200)
  while (Date.now() / 1000 <= first.at + 0.05) await new Promise((r) => setTimeout(r, 10))
  scrapes = [first, await scrapeNow()]
  text = (await get(`${g.adminUrl}/metrics`)).text
})
afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** Metric and label names an expression uses; throws on a syntax error. */
function names(expr: string): { metrics: string[]; labels: string[] } {
  const out = { metrics: [] as string[], labels: [] as string[] }
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`PromQL syntax error at ${node.from}: ${expr}`)
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') out.metrics.push(expr.slice(node.from, node.to))
      if (node.name === 'LabelName') out.labels.push(expr.slice(node.from, node.to))
    },
  })
  return out
}

/** Every family the scrape declares (histogram and summary sample names included) and its labels. */
function families(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) {
      const suffixes = type[2] === 'histogram' ? ['', '_bucket', '_sum', '_count'] : type[2] === 'summary' ? ['', '_sum', '_count'] : ['']
      for (const s of suffixes) out.set(`${type[1]}${s}`, out.get(`${type[1]}${s}`) ?? new Set())
    }
  }
  for (const s of parseMetrics(text)) for (const l of Object.keys(s.labels)) out.get(s.name)?.add(l)
  return out
}

describe('stock Node.js and process dashboards', () => {
  it('find every metric and label they name in a live scrape', () => {
    const live = families()
    for (const expr of STOCK) {
      const { metrics, labels } = names(expr)
      expect(metrics.length, expr).toBeGreaterThan(0)
      for (const m of metrics) {
        expect(live.has(m), `${expr}: ${m}`).toBe(true)
        if (m.startsWith('nodejs_gc_')) continue // observed only once a GC ran; the family is declared
        for (const l of labels) expect([...(live.get(m) ?? [])], `${expr}: label ${l} of ${m}`).toContain(l)
      }
    }
  })

  it('evaluate to values over two scrapes', () => {
    for (const expr of EVALUATED) {
      const v = evaluate(expr, scrapes)
      const values = v.kind === 'scalar' ? [v.value] : v.series.map((s) => s.value)
      expect(values.length, expr).toBeGreaterThan(0)
      for (const x of values) expect(Number.isFinite(x) && x >= 0, `${expr} = ${x}`).toBe(true)
    }
    const rss = evaluate('process_resident_memory_bytes', scrapes)
    expect(rss.kind === 'vector' && (rss.series[0]?.value ?? 0) > 10 * 1024 * 1024).toBe(true)
  })

  it('are no longer hidden under a prefix', () => {
    expect(text).not.toMatch(/^mtls_gateway_(process|nodejs)_/m)
  })
})
