/**
 * What an operator meets running the chart, rendered: a changed chart-made Redis Secret rolls the
 * pods (they read it into env at start) without putting a fast hash of the password on the pod;
 * the HorizontalPodAutoscaler gets the resource requests its targets are a percentage of; and the
 * NetworkPolicy lets the OTLP span export reach its collector; the preStop sleep works on clusters
 * older than the sleep action; and the ServiceMonitor's scrapeTimeout stays within its interval, which
 * Prometheus requires (`promtool check config` judges each generated pair).
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, parseRendered, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'
import { checkConfig } from './alerts-promtool.js'

const run = promisify(execFile)
let r: Renderer
const MINIMAL = valuesFile('minimal')
const REPLICAS = valuesFile('redis-replicas')

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const podAnnotations = (x: Rendered): Record<string, string> => x.get('Deployment').spec.template.metadata.annotations
const devRedis = (url: string, password = 'dev-password'): string => `store:\n  kind: redis\n  redis:\n    url: ${url}\n    password: ${password}\n`

describe('a chart-made Redis Secret rolls the pods when it changes', () => {
  it('changes the pod template with the URL or the password, and only then', async () => {
    const base = podAnnotations(await r.render([MINIMAL], devRedis('redis://redis:6379/0')))
    expect(base['checksum/redis-secret']).toMatch(/^\S{16,}$/)
    expect(podAnnotations(await r.render([MINIMAL], devRedis('redis://redis:6379/0')))).toEqual(base)
    expect(podAnnotations(await r.render([MINIMAL], devRedis('redis://redis-2:6379/0')))['checksum/redis-secret']).not.toBe(base['checksum/redis-secret'])
    expect(podAnnotations(await r.render([MINIMAL], devRedis('redis://redis:6379/0', 'other-password')))['checksum/redis-secret']).not.toBe(base['checksum/redis-secret'])
    // The config checksum alone did not move: the config names only ${env:MTLS_GATEWAY_REDIS_URL}.
    expect(podAnnotations(await r.render([MINIMAL], devRedis('redis://redis-2:6379/0')))['checksum/config']).toBe(base['checksum/config'])
  })

  it('is not a plain hash of the Secret: a weak password is not testable with one sha256 per guess', async () => {
    const { createHash } = await import('node:crypto')
    const rendered = await r.render([MINIMAL], devRedis('redis://redis:6379/0'))
    const mark = podAnnotations(rendered)['checksum/redis-secret'] as string
    const secret = rendered.get('Secret')
    for (const text of [JSON.stringify(secret.data), JSON.stringify(secret), 'redis://redis:6379/0', 'dev-password', 'redis://redis:6379/0dev-password']) {
      expect(mark).not.toBe(createHash('sha256').update(text).digest('hex'))
    }
    expect(JSON.stringify(rendered.get('Deployment'))).not.toContain('dev-password')
  })

  it('marks nothing for an existing Secret (the chart cannot read it: docs/deploy.md says to restart after rotating it)', async () => {
    expect(podAnnotations(await r.render([REPLICAS]))['checksum/redis-secret']).toBeUndefined()
  })
})

describe('the HorizontalPodAutoscaler', () => {
  it('refuses a utilization target without the resource request it is a percentage of, naming the fix', async () => {
    expect(await r.renderError([REPLICAS], 'resources:\n  requests: { cpu: null }\n')).toContain(
      'autoscaling.targetCPUUtilizationPercentage is set but resources.requests.cpu is not',
    )
    expect(await r.renderError([REPLICAS], 'resources:\n  requests: { memory: null }\n')).toContain(
      'autoscaling.targetMemoryUtilizationPercentage is set but resources.requests.memory is not',
    )
    const hpa = (await r.render([REPLICAS], 'resources:\n  requests: { memory: null }\nautoscaling:\n  targetMemoryUtilizationPercentage: 0\n')).get('HorizontalPodAutoscaler')
    expect((hpa.spec.metrics as Manifest[]).map((m) => m.resource.name)).toEqual(['cpu'])
  })

  it('refuses minReplicas above maxReplicas, and no target at all', async () => {
    expect(await r.renderError([REPLICAS], 'autoscaling:\n  minReplicas: 4\n  maxReplicas: 3\n')).toContain('autoscaling.minReplicas (4) is above autoscaling.maxReplicas (3)')
    expect(await r.renderError([REPLICAS], 'autoscaling:\n  targetCPUUtilizationPercentage: 0\n  targetMemoryUtilizationPercentage: 0\n')).toContain(
      'autoscaling.enabled needs a target: set autoscaling.targetCPUUtilizationPercentage',
    )
  })
})

describe('NetworkPolicy egress to the OTLP collector', () => {
  const ports = (x: Rendered): number[][] => (x.get('NetworkPolicy').spec.egress as Manifest[]).map((rule) => (rule.ports as Manifest[]).map((p) => p.port as number))
  const tracing = (endpoint: string): string => `config:\n  tracing:\n    enabled: true\n    otlp:\n      endpoint: ${endpoint}\n`

  it('opens the port of config.tracing.otlp.endpoint (explicit, else the scheme\'s)', async () => {
    expect(ports(await r.render([MINIMAL], tracing('http://otel-collector.monitoring:4318/v1/traces')))).toContainEqual([4318])
    expect(ports(await r.render([MINIMAL], tracing('https://otel.example/v1/traces')))).toContainEqual([443])
  })

  it('sends that rule to networkPolicy.otlp.cidrs when given, and leaves it to extraEgress when networkPolicy.otlp.enabled is false', async () => {
    const rules = (x: Rendered): Manifest[] => x.get('NetworkPolicy').spec.egress as Manifest[]
    const on = tracing('http://otel:4318/v1/traces')
    const narrowed = rules(await r.render([MINIMAL], `${on}networkPolicy:\n  otlp:\n    cidrs: [10.20.0.0/16]\n`))
    expect(narrowed).toContainEqual({ ports: [{ port: 4318, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] })
    expect(narrowed.filter((rule) => JSON.stringify(rule.ports).includes('4318'))).toHaveLength(1)
    expect(ports(await r.render([MINIMAL], `${on}networkPolicy:\n  otlp:\n    enabled: false\n`))).toEqual(ports(await r.render([MINIMAL])))
  })

  it('opens nothing for tracing when it is off or absent', async () => {
    const without = ports(await r.render([MINIMAL]))
    expect(without).not.toContainEqual([4318])
    expect(ports(await r.render([MINIMAL], 'config:\n  tracing:\n    enabled: false\n    otlp:\n      endpoint: http://otel:4318/v1/traces\n'))).toEqual(without)
  })
})

describe('the preStop sleep on every Kubernetes the chart accepts (Chart.yaml kubeVersion >= 1.25)', () => {
  const preStop = async (kube: string, extra = ''): Promise<Manifest | undefined> => {
    const file = join(r.dir, `kube-${kube}.yaml`)
    writeFileSync(file, extra)
    const { stdout } = await run(r.bin, ['--kube-version', kube, '-f', MINIMAL, '-f', file, '--namespace', 'gateway', '--name', 'egress', CHART])
    const deployment = parseRendered(stdout).find((d) => d.kind === 'Deployment') as Manifest
    expect(validateManifest(deployment)).toEqual([])
    return deployment.spec.template.spec.containers[0].lifecycle?.preStop
  }

  it('is the sleep action from 1.30, the image\'s /bin/sleep before (an older API server refuses the action)', async () => {
    expect(await preStop('v1.30.0')).toEqual({ sleep: { seconds: 5 } })
    expect(await preStop('v1.31.4')).toEqual({ sleep: { seconds: 5 } })
    expect(await preStop('v1.29.9')).toEqual({ exec: { command: ['/bin/sleep', '5'] } })
    expect(await preStop('v1.25.0', 'preStopSleepSeconds: 12\nterminationGracePeriodSeconds: 51\n')).toEqual({ exec: { command: ['/bin/sleep', '12'] } })
    expect(await preStop('v1.25.0', 'preStopSleepSeconds: 0\n')).toBeUndefined()
  })
})

describe('the termination grace period with workers', () => {
  // A stuck worker (a busy loop) is SIGKILLed by the primary 5 s after the drain grace, which then exits 1 with its lines: the pod must outlive that.
  it('must exceed the preStop sleep + the drain grace + the primary\'s 5 s kill margin with gateway.workers above 1', async () => {
    const workers = 'gateway:\n  workers: 2\nresources:\n  limits:\n    cpu: 2\n'
    for (const grace of [41, 45]) {
      expect(await r.renderError([MINIMAL], `${workers}terminationGracePeriodSeconds: ${grace}\n`)).toContain(`terminationGracePeriodSeconds (${grace}) must exceed preStopSleepSeconds + gateway.drainGraceSeconds + 5 (45) with gateway.workers above 1`)
    }
    expect((await r.render([MINIMAL], `${workers}terminationGracePeriodSeconds: 46\n`)).get('Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(46)
    // The chart's defaults (35 s grace, 5 s sleep, 50 s) hold with workers.
    expect((await r.render([MINIMAL], workers)).get('Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(50)
  })

  // One process ends its drain after the grace too: 0.5 s for answers being written, up to 1 s for each to leave, then its exit (more on a busy node).
  it('must exceed the preStop sleep + the drain grace + 3 s with one process', async () => {
    for (const grace of [41, 43]) {
      expect(await r.renderError([MINIMAL], `terminationGracePeriodSeconds: ${grace}\n`)).toContain(`terminationGracePeriodSeconds (${grace}) must exceed preStopSleepSeconds + gateway.drainGraceSeconds + 3 (43): after the grace the gateway takes about 2 s to end its drain`)
    }
    expect((await r.render([MINIMAL], 'terminationGracePeriodSeconds: 44\n')).get('Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(44)
  })
})

describe('extra labels', () => {
  it('refuses podLabels that change a selector label, naming it and both values', async () => {
    expect(await r.renderError([valuesFile('full')], 'podLabels:\n  app.kubernetes.io/instance: other\n')).toContain(
      'podLabels sets app.kubernetes.io/instance: "other", but the chart sets that label to "egress": it is part of the Deployment\'s selector',
    )
    const same = await r.render([valuesFile('full')], 'podLabels:\n  app.kubernetes.io/name: mtls-gateway\n')
    expect(same.get('Deployment').spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'mtls-gateway', 'app.kubernetes.io/instance': 'egress' })
  })

  it('writes each label once, the values map winning over the chart\'s own on the Services, ServiceMonitor, PrometheusRule and dashboard', async () => {
    // Two blocks used to repeat a key: the strict parser of the tests (and any strict YAML reader) refuses the manifest.
    const x = await r.render(
      [valuesFile('full')],
      'podLabels:\n  team: payments\nservice:\n  labels:\n    app.kubernetes.io/part-of: platform\n    team: payments\nserviceMonitor:\n  labels:\n    helm.sh/chart: x\nprometheusRule:\n  labels:\n    app.kubernetes.io/version: "2"\ngrafanaDashboard:\n  labels:\n    app.kubernetes.io/managed-by: me\n',
    )
    expect(x.get('Deployment').spec.template.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'mtls-gateway', 'app.kubernetes.io/instance': 'egress', 'example.com/tier': 'egress', team: 'payments' })
    expect(x.get('Service', 'egress-gateway').metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'egress', 'app.kubernetes.io/part-of': 'platform', team: 'payments' })
    expect(x.get('ServiceMonitor').metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'egress', 'helm.sh/chart': 'x', release: 'kube-prometheus-stack' })
    expect(x.get('PrometheusRule').metadata.labels).toMatchObject({ 'app.kubernetes.io/version': '2' })
    expect(x.all('ConfigMap').find((c) => c.metadata.name.endsWith('-dashboard'))?.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'me', grafana_dashboard: '1' })
  })
})

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
