/**
 * The Helm chart, rendered by the test-only renderer for the three test values files and
 * checked: every manifest against the Kubernetes API schemas (unknown fields refused),
 * yamllint, values against values.schema.json, the rendered gateway config loaded by the
 * gateway's own `check`, the checksum annotation, and the refusals (SQLite with replicas…).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { writeDevPki, writeInterceptionCa } from '../../src/tls/index.js'
import { buildRenderer, CHART, TEST_VALUES, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { KNOWN_KINDS, validateManifest } from './kube-schema.js'

const run = promisify(execFile)
let r: Renderer
const out: Record<string, Rendered> = {}

beforeAll(async () => {
  r = buildRenderer()
  for (const name of TEST_VALUES) out[name] = await r.render([valuesFile(name)])
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const deployment = (name: string): Manifest => (out[name] as Rendered).get('Deployment')
const container = (name: string): Manifest => deployment(name).spec.template.spec.containers[0]

describe.each(TEST_VALUES)('helm/tests/%s.yaml', (name) => {
  it('renders manifests that are valid Kubernetes objects with no unknown field', () => {
    const docs = (out[name] as Rendered).docs
    expect(docs.length).toBeGreaterThan(5)
    for (const doc of docs) {
      const id = `${doc.kind}/${doc.metadata?.name}`
      expect(KNOWN_KINDS, id).toContain(`${doc.apiVersion}/${doc.kind}`)
      expect(validateManifest(doc), id).toEqual([])
      expect(doc.metadata.namespace, id).toBe('gateway')
      expect(doc.metadata.labels['app.kubernetes.io/instance'], id).toBe('egress')
    }
  })

  it('passes yamllint, as do the gateway YAML inside the ConfigMap and the values file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yamllint-'))
    try {
      writeFileSync(join(dir, 'rendered.yaml'), (out[name] as Rendered).text)
      const cm = (out[name] as Rendered).all('ConfigMap').find((d) => d.data?.['gateway.yaml'])
      writeFileSync(join(dir, 'gateway.yaml'), cm?.data['gateway.yaml'] as string)
      const files = [join(dir, 'rendered.yaml'), join(dir, 'gateway.yaml'), valuesFile(name)]
      // Exit 0 and no finding: a missing yamllint (ENOENT), a crash or a warning (--strict: 2) all fail.
      const lint = await run('yamllint', ['-c', 'helm/tests/yamllint.yaml', '-f', 'parsable', '--strict', ...files]).then(
        (ok) => ({ code: 0 as number | string, stdout: ok.stdout, stderr: ok.stderr }),
        (e: { code?: number | string; stdout?: string; stderr?: string; message?: string }) => ({ code: e.code ?? 'unknown', stdout: e.stdout ?? '', stderr: e.stderr ?? e.message ?? '' }),
      )
      expect(lint, 'yamllint must run and find nothing').toEqual({ code: 0, stdout: '', stderr: '' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('validates against values.schema.json (merged with the chart defaults, as Helm does)', async () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const merged = await r.values([valuesFile(name)])
    expect(validate(merged), JSON.stringify(validate.errors)).toBe(true)
  })

  it('hardens the pod: non-root, read-only root, no capabilities, RuntimeDefault seccomp, probes on the admin port', () => {
    const pod = deployment(name).spec.template.spec
    const c = container(name)
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } })
    const cfg = (out[name] as Rendered).gatewayConfig()
    // Over HTTPS when the admin port serves TLS: an HTTP probe of a TLS port would fail every time.
    const scheme = cfg.admin.tls ? { scheme: 'HTTPS' } : {}
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin', ...scheme })
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin', ...scheme })
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'admin', ...scheme })
    expect(c.resources.requests).toBeDefined()
    expect(c.ports).toContainEqual({ name: 'admin', containerPort: cfg.admin.port, protocol: 'TCP' })
    // Every address of the pod, IPv6 and IPv4 (gateway.listenHost; helm-ip-families.test.ts): the kubelet probes the pod IP.
    expect(cfg.admin.host).toBe('::')
    const grace = Number(/^(\d+)s$/.exec(cfg.drain.grace)?.[1])
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0
    // By default too: without it the pod refuses connections kube-proxy still sends it during a rollout.
    expect(preStop).toBeGreaterThanOrEqual(5)
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(grace + preStop)
    expect(c.args).toEqual(expect.arrayContaining(['serve', '--config', '/etc/mtls-gateway/config/gateway.yaml']))
    const mounts = Object.fromEntries((c.volumeMounts as Manifest[]).map((m) => [m.mountPath, m]))
    expect(mounts['/var/lib/mtls-gateway']).toBeDefined()
    expect(mounts['/tmp']).toBeDefined()
    expect(deployment(name).spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/)
  })

  it('mounts one Secret per endpoint in the Kubernetes TLS layout, where the config points tls.dir', () => {
    const cfg = (out[name] as Rendered).gatewayConfig()
    const pod = deployment(name).spec.template.spec
    const volumes = Object.fromEntries((pod.volumes as Manifest[]).map((v) => [v.name, v]))
    const mounts = Object.fromEntries((container(name).volumeMounts as Manifest[]).map((m) => [m.mountPath, m]))
    const values = parse(readFileSync(valuesFile(name), 'utf8')) as { endpoints: { name: string; tls: { secretName: string } }[] }
    expect(cfg.endpoints.map((e: Manifest) => e.name)).toEqual(values.endpoints.map((e) => e.name))
    for (const e of values.endpoints) {
      const compiled = cfg.endpoints.find((x: Manifest) => x.name === e.name)
      expect(compiled.tls.secretName).toBeUndefined()
      expect(compiled.egress).toBeUndefined()
      const mount = mounts[compiled.tls.dir]
      expect(mount, e.name).toMatchObject({ readOnly: true })
      expect(volumes[mount.name].secret.secretName).toBe(e.tls.secretName)
    }
    // No key material in the rendered release by default: bundles are referenced by Secret name.
    expect((out[name] as Rendered).text).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/)
  })

  it('opens egress only to the ports the endpoints use', () => {
    const np = (out[name] as Rendered).get('NetworkPolicy')
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress'])
    const ports = new Set((np.spec.egress as Manifest[]).flatMap((rule) => (rule.ports as Manifest[]).map((p) => p.port)))
    for (const e of (out[name] as Rendered).gatewayConfig().endpoints as { url: string }[]) {
      const port = /:(\d+)(\/|$)/.exec(e.url.replace(/^https?:\/\//, ''))?.[1] ?? '443'
      expect(ports, e.url).toContain(Number(port))
    }
    for (const rule of np.spec.egress as Manifest[]) expect(rule.ports.length).toBeGreaterThan(0)
  })

  it('writes a gateway config that the gateway itself loads and checks (mtls-gateway check)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'chart-check-'))
    try {
      const cfg = (out[name] as Rendered).gatewayConfig()
      const pki = await writeDevPki({ dir: join(root, 'pki'), kind: 'p256' })
      for (const e of cfg.endpoints as { tls: { dir: string } }[]) {
        const dir = join(root, e.tls.dir)
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, 'tls.crt'), readFileSync(pki.clientCert, 'utf8') + readFileSync(pki.intermediateCert, 'utf8'))
        writeFileSync(join(dir, 'tls.key'), readFileSync(pki.clientKey))
        writeFileSync(join(dir, 'ca.crt'), readFileSync(pki.rootCert))
      }
      for (const id of ((cfg.store.sealKeys ?? []) as { id: string }[]).map((k) => k.id)) {
        mkdirSync(join(root, '/etc/mtls-gateway/seal-keys'), { recursive: true })
        writeFileSync(join(root, '/etc/mtls-gateway/seal-keys', id), Buffer.alloc(32, 7).toString('base64'))
      }
      if (cfg.interception) {
        const ca = await writeInterceptionCa(join(root, 'ca'))
        mkdirSync(join(root, '/etc/mtls-gateway/interception-ca'), { recursive: true })
        writeFileSync(join(root, '/etc/mtls-gateway/interception-ca/tls.crt'), readFileSync(ca.caCert))
        writeFileSync(join(root, '/etc/mtls-gateway/interception-ca/tls.key'), readFileSync(ca.caKey))
      }
      if (cfg.admin.token) {
        mkdirSync(join(root, '/etc/mtls-gateway/console-token'), { recursive: true })
        writeFileSync(join(root, '/etc/mtls-gateway/console-token/token'), 'console-token-from-a-secret')
      }
      if (cfg.admin.tls) {
        mkdirSync(join(root, '/etc/mtls-gateway/admin-tls'), { recursive: true })
        writeFileSync(join(root, '/etc/mtls-gateway/admin-tls/tls.crt'), readFileSync(pki.serverCert))
        writeFileSync(join(root, '/etc/mtls-gateway/admin-tls/tls.key'), readFileSync(pki.serverKey))
        mkdirSync(join(root, '/etc/mtls-gateway/admin-client-ca'), { recursive: true })
        writeFileSync(join(root, '/etc/mtls-gateway/admin-client-ca/ca.crt'), readFileSync(pki.rootCert))
      }
      mkdirSync(join(root, '/etc/mtls-gateway/secrets/callers'), { recursive: true })
      writeFileSync(join(root, '/etc/mtls-gateway/secrets/callers/bot-runtime'), 'a-caller-secret-of-at-least-32-bytes!!')
      const cm = (out[name] as Rendered).all('ConfigMap').find((d) => d.data?.['gateway.yaml'])
      const text = (cm?.data['gateway.yaml'] as string).replaceAll('/etc/mtls-gateway/', `${root}/etc/mtls-gateway/`).replaceAll('/var/lib/mtls-gateway', `${root}/var/lib/mtls-gateway`)
      mkdirSync(join(root, 'etc/mtls-gateway/config'), { recursive: true })
      const file = join(root, 'etc/mtls-gateway/config/gateway.yaml')
      writeFileSync(file, text)
      const env = { MTLS_GATEWAY_REDIS_URL: 'redis://127.0.0.1:6379/0', PARTNER_CONSUMER_SECRET: 'consumer-secret' }
      const saved = { ...process.env }
      Object.assign(process.env, env)
      try {
        const result = runCheck(file)
        expect(result.ok, result.output).toBe(true)
      } finally {
        for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k]
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('chart behaviour', () => {
  it('has a manifest validator that does catch type errors and unknown fields', () => {
    const bad = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { a: 'b' } },
      spec: { selector: { matchLabels: { a: 'b' } }, replica: 2, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', securityContext: { readOnlyRootFS: true }, ports: [{ containerPort: 'http' }] }] } } },
    }
    const problems = validateManifest(bad)
    expect(problems).toContain('/spec/replica: unknown field')
    expect(problems).toContain('/spec/template/spec/containers/0/securityContext/readOnlyRootFS: unknown field')
    expect(problems.some((p) => p.includes('containerPort must be integer'))).toBe(true)
    expect(validateManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { any: 'key', is: 'fine' } })).toEqual([])
    expect(validateManifest({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {}, endpoint: [] } })).not.toEqual([])
  })

  it('values.yaml itself validates against values.schema.json, which refuses unknown keys', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...values, replicas: 2 })).toBe(false)
    expect(validate({ ...values, store: { kind: 'postgres' } })).toBe(false)
    expect(validate({ ...values, config: { endpoints: [] } })).toBe(false)
  })

  it('refuses replicaCount 3 with the SQLite store, naming the fix', async () => {
    const err = await r.renderError([valuesFile('minimal')], 'replicaCount: 3\n')
    expect(err).toMatch(/execution error at \(mtls-gateway\/templates\/[^)]+\): replicaCount is 3 but store\.kind is "sqlite"/)
    expect(err).toContain('several replicas need the Redis store. Set store.kind=redis')
  })

  it('refuses autoscaling with SQLite, Redis without a URL, and a grace period shorter than the drain', async () => {
    expect(await r.renderError([valuesFile('minimal')], 'autoscaling:\n  enabled: true\n')).toContain('autoscaling.enabled is true but store.kind is "sqlite"')
    // Values the gateway itself would refuse at start: the install fails instead of every pod.
    expect(await r.renderError([valuesFile('minimal')], 'gateway:\n  adminPort: 8080\n')).toContain('gateway.adminPort (8080) is gateway.port too')
    expect(await r.renderError([valuesFile('minimal')], 'endpoints:\n  - name: partner\n    url: https://api.partner.example\n    tls: { secretName: partner-tls, cert: /x.crt, key: /x.key }\n')).toContain('endpoints "partner": tls.secretName mounts the client bundle as a directory')
    expect(await r.renderError([valuesFile('minimal')], 'store:\n  kind: redis\n')).toContain('neither store.redis.existingSecret')
    expect(await r.renderError([valuesFile('minimal')], 'terminationGracePeriodSeconds: 20\n')).toContain('terminationGracePeriodSeconds (20) must exceed preStopSleepSeconds + gateway.drainGraceSeconds + 3 (43)')
  })

  it('changes the checksum annotation when the config changes, and only then', async () => {
    const checksum = (x: Rendered): string => x.get('Deployment').spec.template.metadata.annotations['checksum/config']
    const base = checksum(out.minimal as Rendered)
    expect(checksum(await r.render([valuesFile('minimal')]))).toBe(base)
    expect(checksum(await r.render([valuesFile('minimal')], 'resources:\n  limits:\n    memory: 1Gi\n'))).toBe(base)
    expect(checksum(await r.render([valuesFile('minimal')], 'config:\n  limits:\n    maxBufferedBody: 1MiB\n'))).not.toBe(base)
    expect(checksum(await r.render([valuesFile('minimal')], 'gateway:\n  drainGraceSeconds: 10\n'))).not.toBe(base)
    expect(checksum(await r.render([valuesFile('minimal')], 'endpoints:\n  - name: other\n    url: https://other.example\n    tls:\n      secretName: other-tls\n'))).not.toBe(base)
  })

  it('renders the optional parts only when enabled', () => {
    // The release's objects; the `helm test` hooks (a Pod and its NetworkPolicy) are test/delivery/helm-connection-test.test.ts's.
    const kinds = (name: string): string[] => {
      const tests = new Set((out[name] as Rendered).tests())
      return (out[name] as Rendered).docs.filter((d) => !tests.has(d)).map((d) => d.kind).sort()
    }
    // SQLite keeps its tokens on a claim by default: a pod replaced in a rollout loses nothing.
    expect(kinds('minimal')).toEqual(['ConfigMap', 'Deployment', 'NetworkPolicy', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount'])
    expect(kinds('full')).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor'])
    expect(kinds('redis-replicas')).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor'])
  })

  it('runs several replicas on Redis: the URL from the existing Secret, HPA-managed replicas, a rolling update', () => {
    const d = deployment('redis-replicas')
    expect(d.spec.replicas).toBeUndefined() // the HPA owns it
    expect(d.spec.strategy.type).toBe('RollingUpdate')
    expect(container('redis-replicas').env).toContainEqual({ name: 'MTLS_GATEWAY_REDIS_URL', valueFrom: { secretKeyRef: { name: 'mtls-gateway-redis', key: 'url' } } })
    expect((out['redis-replicas'] as Rendered).gatewayConfig().store).toMatchObject({ kind: 'redis', url: '${env:MTLS_GATEWAY_REDIS_URL}', keyPrefix: 'egress:' })
    expect((out['redis-replicas'] as Rendered).get('HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 })
    expect((out['redis-replicas'] as Rendered).get('PodDisruptionBudget').spec.minAvailable).toBe(2)
    expect((out['redis-replicas'] as Rendered).all('Secret')).toEqual([])
  })

  it('turns the console on from an existing Secret mounted as a file (a rotated Secret applies without a restart), and leaves it off by default', () => {
    const pod = deployment('full').spec.template.spec
    const volume = (pod.volumes as Manifest[]).find((v) => v.name === 'console-token')
    expect(volume).toEqual({ name: 'console-token', secret: { secretName: 'egress-console', items: [{ key: 'token', path: 'token' }], defaultMode: 288 } })
    expect(container('full').volumeMounts).toContainEqual({ name: 'console-token', mountPath: '/etc/mtls-gateway/console-token', readOnly: true })
    expect((out.full as Rendered).gatewayConfig().admin.token).toBe('${file:/etc/mtls-gateway/console-token/token}')
    // Not an environment variable: that would keep the old token until the pod restarts.
    for (const name of TEST_VALUES) expect(JSON.stringify(container(name).env ?? [])).not.toContain('ADMIN_TOKEN')
    expect((out.minimal as Rendered).gatewayConfig().admin.token).toBeUndefined()
    expect((deployment('minimal').spec.template.spec.volumes as Manifest[]).map((v) => v.name)).not.toContain('console-token')
    expect((out.full as Rendered).all('Secret')).toEqual([])
  })

  it('feeds gateway.adminAllowedHosts to admin.allowedHosts, and writes none by default (probes and scrapes reach the pod by IP)', () => {
    expect((out.full as Rendered).gatewayConfig().admin.allowedHosts).toEqual(['gateway-admin.ops.example.com'])
    expect((out.minimal as Rendered).gatewayConfig().admin.allowedHosts).toBeUndefined()
    // The kubelet sends the pod IP as Host unless a probe names another: the admin port always answers an IP.
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) expect(container('minimal')[probe].httpGet.host, probe).toBeUndefined()
  })

  it('feeds gateway.consoleOrigins to admin.consoleOrigins (the console behind a TLS-terminating Ingress), and writes none by default', () => {
    expect((out.full as Rendered).gatewayConfig().admin.consoleOrigins).toEqual(['https://gateway-admin.ops.example.com'])
    expect((out.minimal as Rendered).gatewayConfig().admin.consoleOrigins).toBeUndefined()
  })

  it('feeds gateway.waysIn to listen.waysIn ([route, api] behind a route-mode Ingress), and every way in by default', () => {
    expect((out.full as Rendered).gatewayConfig().listen.waysIn).toEqual(['route', 'api'])
    expect((out.minimal as Rendered).gatewayConfig().listen.waysIn).toEqual(['forward', 'connect', 'route', 'api'])
  })

  it('serves the admin port over TLS from an existing Secret: admin.tls, HTTPS probes, an HTTPS ServiceMonitor; plain HTTP by default', async () => {
    const full = out.full as Rendered
    expect(full.gatewayConfig().admin.tls).toEqual({
      cert: '/etc/mtls-gateway/admin-tls/tls.crt',
      key: '/etc/mtls-gateway/admin-tls/tls.key',
      clientCa: '/etc/mtls-gateway/admin-client-ca/ca.crt',
      clientSubjects: ['ops-alice'],
      clientSans: ['ops.example.com'],
    })
    const volumes = Object.fromEntries((deployment('full').spec.template.spec.volumes as Manifest[]).map((v) => [v.name, v]))
    expect(volumes['admin-tls']).toEqual({ name: 'admin-tls', secret: { secretName: 'egress-admin-tls', defaultMode: 288 } })
    expect(volumes['admin-client-ca']).toEqual({ name: 'admin-client-ca', secret: { secretName: 'egress-operators-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 288 } })
    expect(container('full').volumeMounts).toEqual(expect.arrayContaining([
      { name: 'admin-tls', mountPath: '/etc/mtls-gateway/admin-tls', readOnly: true },
      { name: 'admin-client-ca', mountPath: '/etc/mtls-gateway/admin-client-ca', readOnly: true },
    ]))
    const endpoint = full.get('ServiceMonitor').spec.endpoints[0]
    expect(endpoint).toMatchObject({ port: 'admin', path: '/metrics', scheme: 'https', tlsConfig: { ca: { secret: { name: 'egress-admin-tls', key: 'ca.crt' } }, serverName: 'egress-gateway-metrics.gateway.svc' } })
    expect(full.get('Service', 'egress-gateway-metrics')).toBeDefined()
    // The operator's own tlsConfig replaces the default one.
    const own = await r.render([valuesFile('full')], 'serviceMonitor:\n  tlsConfig:\n    insecureSkipVerify: true\n')
    expect(own.get('ServiceMonitor').spec.endpoints[0].tlsConfig).toEqual({ insecureSkipVerify: true })
    expect(validateManifest(own.get('ServiceMonitor'))).toEqual([])
    // Without adminTls: plain HTTP everywhere.
    const plain = out['redis-replicas'] as Rendered
    expect(plain.gatewayConfig().admin.tls).toBeUndefined()
    expect(plain.get('ServiceMonitor').spec.endpoints[0].scheme).toBe('http')
    expect(plain.get('ServiceMonitor').spec.endpoints[0].tlsConfig).toBeUndefined()
    expect(container('redis-replicas').readinessProbe.httpGet.scheme).toBeUndefined()
  })

  it('refuses admin client certificates that could not work, naming the fix', async () => {
    expect(await r.renderError([valuesFile('minimal')], 'gateway:\n  adminTls:\n    clientCaSecret: ops-ca\n    clientSubjects: [ops]\n')).toContain('gateway.adminTls.clientCaSecret is set but gateway.adminTls.secretName is not')
    expect(await r.renderError([valuesFile('minimal')], 'gateway:\n  adminTls:\n    secretName: admin-tls\n    clientSans: [ops.example.com]\n')).toContain('gateway.adminTls.clientSubjects/clientSans need gateway.adminTls.clientCaSecret')
    expect(await r.renderError([valuesFile('minimal')], 'gateway:\n  adminTls:\n    secretName: admin-tls\n    clientCaSecret: ops-ca\n')).toContain('neither clientSubjects nor clientSans')
    // requireClientCert is not a chart value (the kubelet's probes could not connect): the values schema refuses it.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { gateway: Record<string, unknown> }
    const withTls = (adminTls: Record<string, unknown>): unknown => ({ ...values, gateway: { ...values.gateway, adminTls } })
    expect(validate(withTls({ secretName: 'admin-tls', clientCaSecret: 'ops-ca', clientSubjects: ['ops'] }))).toBe(true)
    expect(validate(withTls({ secretName: 'admin-tls', requireClientCert: true }))).toBe(false)
    expect(JSON.stringify(validate.errors)).toContain('requireClientCert')
  })

  it('keeps SQLite state on a PVC with a Recreate rollout when persistence is on', () => {
    const d = deployment('full')
    expect(d.spec.strategy).toEqual({ type: 'Recreate' })
    const state = (d.spec.template.spec.volumes as Manifest[]).find((v) => v.name === 'state')
    expect(state?.persistentVolumeClaim.claimName).toBe((out.full as Rendered).get('PersistentVolumeClaim').metadata.name)
  })

  it('renders NOTES.txt', async () => {
    const { stdout } = await run(r.bin, ['--notes', '-f', valuesFile('minimal'), '--namespace', 'gateway', '--name', 'egress', CHART])
    expect(stdout).toMatch(/NOTES:\nmtls-gateway .* is deployed as egress-mtls-gateway in namespace gateway/)
    expect(stdout).toContain('partner → https://api.partner.example:8443 (Secret partner-client-tls')
  })
})
