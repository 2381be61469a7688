/**
 * The operator's maps merged into keys the chart sets itself are written once per key: written as
 * two blocks, a key in both was in the manifest twice, which one YAML reader resolves to the first,
 * another to the last, and a strict one refuses. Over generated maps that reuse the chart's own
 * keys (a seeded property): `podAnnotations` beside the Deployment's checksums, `podLabels` beside
 * the selector labels, the Services' annotations, the Service's, ServiceMonitor's, PrometheusRule's
 * and dashboard's labels over the chart's, `helmTest.podLabels` / `podAnnotations` under the test
 * hook's own. Every render parses with unique keys, and a podAnnotation that gives a checksum of the
 * chart another value is refused, naming the key (that checksum is what rolls the pods), as
 * `podLabels` that change a selector label are, and as a Helm hook annotation in
 * `helmTest.podAnnotations` is. Before, `checksum/config` in podAnnotations was
 * written twice in the pod template.
 */
import fc from 'fast-check'
import { parseAllDocuments, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'

let r: Renderer
const FULL = valuesFile('full')
const DEV_REDIS = { store: { kind: 'redis', redis: { url: 'redis://redis:6379/0', password: 'dev-password' } } }

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

type Labels = Record<string, string>
/** Stands for the chart's own value of the key (a repeat of it is accepted). */
const OWN = '<own>'
const CHECKSUMS = ['checksum/config', 'checksum/redis-secret']
const CHART_LABELS = ['helm.sh/chart', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of', 'app.kubernetes.io/component']
const HOOK = ['helm.sh/hook', 'helm.sh/hook-delete-policy', 'helm.sh/hook-weight', 'helm.sh/hook-output-log-policy']
const value: fc.Arbitrary<string> = fc.constantFrom('x', '', 'true', '2', 'platform')
const map = (keys: string[], values = value): fc.Arbitrary<Labels> => fc.dictionary(fc.constantFrom(...keys, 'team', 'example.com/extra'), values, { maxKeys: 4 })

const metadata = (x: Rendered) => {
  const deployment = x.get('Deployment').spec.template.metadata
  const testPod = x.tests().find((d) => d.kind === 'Pod') as Manifest
  return {
    podAnnotations: deployment.annotations as Labels,
    podLabels: deployment.labels as Labels,
    serviceLabels: x.get('Service', 'egress-gateway').metadata.labels as Labels,
    serviceAnnotations: (x.get('Service', 'egress-gateway').metadata.annotations ?? {}) as Labels,
    metricsAnnotations: (x.get('Service', 'egress-gateway-metrics').metadata.annotations ?? {}) as Labels,
    serviceMonitorLabels: x.get('ServiceMonitor').metadata.labels as Labels,
    prometheusRuleLabels: x.get('PrometheusRule').metadata.labels as Labels,
    dashboardLabels: (x.all('ConfigMap').find((c) => c.metadata.name.endsWith('-dashboard')) as Manifest).metadata.labels as Labels,
    testLabels: testPod.metadata.labels as Labels,
    testAnnotations: testPod.metadata.annotations as Labels,
  }
}

describe('maps of the operator\'s beside the chart\'s own keys', () => {
  it('write each key once; a podAnnotation giving a chart checksum another value is refused, naming it (seeded, 80 releases)', async () => {
    const bases = { sqlite: metadata(await r.render([FULL])), redis: metadata(await r.render([FULL], stringify(DEV_REDIS))) }
    expect(bases.redis.podAnnotations['checksum/redis-secret']).toBeDefined()
    const own = (labels: Labels, chart: Labels): Labels => Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v === OWN ? (chart[k] ?? 'elsewhere') : v]))
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'sqlite' | 'redis'>('sqlite', 'redis'),
        map(CHECKSUMS, fc.constantFrom<string>(OWN, OWN, 'x', '', 'abc123')),
        map(CHART_LABELS.slice(3)),
        fc.record({ serviceLabels: map(CHART_LABELS), serviceAnnotations: map(CHECKSUMS), metricsAnnotations: map(CHECKSUMS), serviceMonitorLabels: map(CHART_LABELS), prometheusRuleLabels: map(CHART_LABELS), dashboardLabels: map(CHART_LABELS) }),
        // Half the releases without a hook key in helmTest.podAnnotations (one with any is refused), so most renders pass.
        fc.record({ testLabels: map(CHART_LABELS), testAnnotations: fc.oneof(map([]), map(HOOK)) }),
        async (store, annotations, extraPodLabels, maps, test) => {
          const base = bases[store]
          const podAnnotations = own(annotations, base.podAnnotations)
          // podLabels may repeat a selector label, never change it (helm-operations.test.ts: refused).
          const podLabels = { ...extraPodLabels, 'app.kubernetes.io/instance': 'egress' }
          const values = {
            ...(store === 'redis' ? DEV_REDIS : {}),
            podAnnotations,
            podLabels,
            service: { labels: maps.serviceLabels, annotations: maps.serviceAnnotations },
            metricsService: { annotations: maps.metricsAnnotations },
            serviceMonitor: { labels: maps.serviceMonitorLabels },
            prometheusRule: { labels: maps.prometheusRuleLabels },
            grafanaDashboard: { labels: maps.dashboardLabels },
            helmTest: { podLabels: test.testLabels, podAnnotations: test.testAnnotations },
          }
          const changed = Object.keys(podAnnotations).filter((k) => k in base.podAnnotations && CHECKSUMS.includes(k) && podAnnotations[k] !== base.podAnnotations[k])
          if (changed.length > 0) {
            const error = await r.renderError([FULL], stringify(values))
            expect(error).toContain(`podAnnotations sets ${changed.sort()[0]}, an annotation the chart sets itself`)
            return
          }
          // Helm's hook annotations are the test hook's own: refused in helmTest.podAnnotations (helm-test-hook-annotations.test.ts).
          const hookKey = Object.keys(test.testAnnotations).sort().find((k) => HOOK.includes(k))
          if (hookKey !== undefined) {
            expect(await r.renderError([FULL], stringify(values))).toContain(`helmTest.podAnnotations sets ${hookKey}, a Helm hook annotation`)
            return
          }
          const x = await r.render([FULL], stringify(values))
          // What any YAML reader must agree on: no key twice (chart.ts parses strictly too).
          for (const doc of parseAllDocuments(x.text, { uniqueKeys: true })) expect(doc.errors.map((e) => e.message)).toEqual([])
          const got = metadata(x)
          // The chart's checksums stay its own, whatever podAnnotations give.
          expect(got.podAnnotations).toEqual({ ...base.podAnnotations, ...podAnnotations })
          for (const k of CHECKSUMS.filter((k) => k in base.podAnnotations)) expect(got.podAnnotations[k], k).toBe(base.podAnnotations[k])
          expect(got.podLabels).toEqual({ ...base.podLabels, ...podLabels })
          for (const key of ['serviceLabels', 'serviceAnnotations', 'metricsAnnotations', 'serviceMonitorLabels', 'prometheusRuleLabels', 'dashboardLabels'] as const) {
            expect(got[key], key).toEqual({ ...base[key], ...maps[key] })
          }
          // The test hook's own labels win over helmTest's (and podLabels); its annotations are its own.
          const testOwn = (from: Labels, keys: string[]): Labels => Object.fromEntries(Object.entries(from).filter(([k]) => keys.includes(k)))
          expect(got.testLabels).toEqual({ ...base.testLabels, ...podLabels, ...test.testLabels, ...testOwn(base.testLabels, CHART_LABELS) })
          expect(got.testAnnotations).toEqual({ ...base.testAnnotations, ...podAnnotations, ...test.testAnnotations, ...testOwn(base.testAnnotations, HOOK) })
        },
      ),
      { seed: 0xc4ec, numRuns: 80 },
    )
  }, 240_000)

  it('names checksum/config and why it is the chart\'s, and accepts a repeat of the chart\'s own value', async () => {
    const error = await r.renderError([valuesFile('minimal')], stringify({ podAnnotations: { 'checksum/config': 'pinned' } }))
    expect(error).toContain('podAnnotations sets checksum/config, an annotation the chart sets itself: the checksum of the gateway\'s config, which rolls the pods when it changes')
    const checksum = (await r.render([valuesFile('minimal')])).get('Deployment').spec.template.metadata.annotations['checksum/config'] as string
    const repeated = await r.render([valuesFile('minimal')], stringify({ podAnnotations: { 'checksum/config': checksum, team: 'pay' } }))
    expect(repeated.get('Deployment').spec.template.metadata.annotations).toEqual({ 'checksum/config': checksum, team: 'pay' })
  })
})
