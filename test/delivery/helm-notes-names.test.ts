/**
 * What NOTES.txt names must exist: every metric name (or `grep ^prefix` of names) it mentions is
 * one a live gateway exports on /metrics (started in-process, its admin listener scraped on the
 * wire), and the metrics Service and PrometheusRule it names are the ones the release renders
 * (a long release name cuts the Service's name; NOTES named the uncut one).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, parseRendered, valuesFile, TEST_VALUES, type Renderer } from './chart.js'
import { get, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let r: Renderer
let n = 0
let gw: OpsGateway
let dir: string
/** Families on the live /metrics (histograms with their _bucket, _sum and _count), and its sample lines. */
const families = new Set<string>()
let sampleLines: string[] = []
/** Monitoring on, so every part of NOTES that speaks of metrics renders. */
const MONITORED = 'serviceMonitor:\n  enabled: true\nprometheusRule:\n  enabled: true\nnetworkPolicy:\n  metricsFrom:\n    - namespaceSelector: {}\n'

beforeAll(async () => {
  r = buildRenderer()
  dir = mkdtempSync(join(tmpdir(), 'notes-names-'))
  gw = await startOpsGateway(dir, `callers:\n  required: false\nstore:\n  kind: sqlite\n  file: ${join(dir, 'gateway.db')}\nendpoints: []\n`)
  const { status, text } = await get(`${gw.adminUrl}/metrics`)
  expect(status).toBe(200)
  for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.add(name as string)
    if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) families.add(`${name}${s}`)
  }
  sampleLines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
}, 5 * 60_000)
afterAll(async () => {
  await gw?.gw.close()
  await r?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** NOTES.txt and the manifests of one render (`--notes` prints NOTES after a "NOTES:" line). */
function notesOf(files: string[], extra = ''): { notes: string; manifests: ReturnType<typeof parseRendered> } {
  const file = join(r.dir, `notes-names-${++n}.yaml`)
  writeFileSync(file, extra)
  const out = execFileSync(r.bin, ['--notes', ...[...files, file].flatMap((f) => ['-f', f]), '--namespace', 'gateway', '--name', 'egress', CHART], { encoding: 'utf8' })
  const at = out.indexOf('\nNOTES:\n')
  return { notes: out.slice(at + 8), manifests: parseRendered(out.slice(0, at)) }
}

/** Metric names in a text: the gateway's own prefix and Node's process families. */
const metricNames = (text: string): string[] => [...text.matchAll(/\b(?:mtls_gateway|process|nodejs)_[a-z0-9_]*/g)].map((m) => m[0])

describe('NOTES.txt names only what exists', () => {
  it.each([...TEST_VALUES, 'redis-sentinel-tls', 'redis-cluster'])('%s.yaml (monitoring on): every metric name it mentions is exported by the gateway', async (name) => {
    const { notes } = notesOf([valuesFile(name)], MONITORED)
    const names = metricNames(notes)
    expect(names.length, 'NOTES tells how to read the gateway\'s metrics').toBeGreaterThan(0)
    for (const m of names) {
      // A name ending in "_" is a prefix NOTES greps for: it must select at least one exported family, and sample lines.
      if (m.endsWith('_')) {
        expect([...families].some((f) => f.startsWith(m)), `NOTES greps for ${m}, which starts no exported metric`).toBe(true)
        expect(sampleLines.some((l) => l.startsWith(m)), `"grep ^${m}" finds no sample line on /metrics`).toBe(true)
      } else expect(families, `NOTES names ${m}, which the gateway does not export`).toContain(m)
    }
  })

  it('names the metrics Service and PrometheusRule the release renders, also when a long name is cut', async () => {
    for (const extra of ['', `fullnameOverride: ${'g'.repeat(60)}\n`]) {
      const { notes, manifests } = notesOf([valuesFile('minimal')], `${MONITORED}${extra}`)
      const service = manifests.find((d) => d.kind === 'Service' && d.metadata.labels['app.kubernetes.io/component'] === 'metrics')
      const rule = manifests.find((d) => d.kind === 'PrometheusRule')
      expect(notes).toContain(`A ServiceMonitor scrapes ${service?.metadata.name} every 30s.`)
      expect(notes).toContain(`Alerts (PrometheusRule ${rule?.metadata.name}):`)
    }
  })
})
