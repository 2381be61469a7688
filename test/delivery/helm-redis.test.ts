/**
 * The chart pointed at Redis behind Sentinel (TLS, client certificate) and at a Redis Cluster:
 * valid manifests, values valid against the schema, a gateway config the gateway loads, secrets only as Secret references, and NetworkPolicy egress to the
 * Sentinel / Cluster / data ports.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, repeatedRedisCredentialWarnings } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { buildRenderer, CHART, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

const run = promisify(execFile)
const FILES = ['redis-sentinel-tls', 'redis-cluster'] as const
let r: Renderer
const out: Record<string, Rendered> = {}

beforeAll(async () => {
  r = buildRenderer()
  for (const name of FILES) out[name] = await r.render([valuesFile(name)])
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const get = (name: string): Rendered => out[name] as Rendered
const container = (name: string): Manifest => get(name).get('Deployment').spec.template.spec.containers[0]
const egressPorts = (name: string): number[] =>
  ((get(name).get('NetworkPolicy').spec.egress as Manifest[]).find((rule) => JSON.stringify(rule).includes('6379') || JSON.stringify(rule).includes('26379'))?.ports as Manifest[]).map((p) => p.port as number)

describe.each(FILES)('helm/tests/%s.yaml', (name) => {
  it('renders valid manifests and values valid against values.schema.json', async () => {
    for (const doc of get(name).docs) expect(validateManifest(doc), `${doc.kind}/${doc.metadata?.name}`).toEqual([])
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    expect(validate(await r.values([valuesFile(name)])), JSON.stringify(validate.errors)).toBe(true)
    expect(get(name).all('Secret')).toEqual([])
  })

  it('passes yamllint (manifests, the gateway YAML inside, the values file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yamllint-redis-'))
    try {
      writeFileSync(join(dir, 'rendered.yaml'), get(name).text)
      const cm = get(name).all('ConfigMap').find((d) => d.data?.['gateway.yaml'])
      writeFileSync(join(dir, 'gateway.yaml'), cm?.data['gateway.yaml'] as string)
      const files = [join(dir, 'rendered.yaml'), join(dir, 'gateway.yaml'), valuesFile(name)]
      const lint = await run('yamllint', ['-c', 'helm/tests/yamllint.yaml', '-f', 'parsable', '--strict', ...files]).catch((e: { stdout: string }) => e)
      expect(lint.stdout).toBe('')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('writes a gateway config whose store section the gateway loads', () => {
    const root = mkdtempSync(join(tmpdir(), 'chart-redis-'))
    const env = { MTLS_GATEWAY_REDIS_PASSWORD: 'redis-pass', MTLS_GATEWAY_REDIS_SENTINEL_PASSWORD: 'sentinel-pass' }
    Object.assign(process.env, env)
    try {
      const cm = get(name).all('ConfigMap').find((d) => d.data?.['gateway.yaml'])
      const text = (cm?.data['gateway.yaml'] as string).replaceAll('/etc/mtls-gateway/', `${root}/etc/mtls-gateway/`).replaceAll('/var/lib/mtls-gateway', `${root}/var/lib/mtls-gateway`)
      mkdirSync(join(root, 'etc/mtls-gateway/config'), { recursive: true })
      mkdirSync(join(root, 'etc/mtls-gateway/seal-keys'), { recursive: true })
      writeFileSync(join(root, 'etc/mtls-gateway/seal-keys/k1'), Buffer.alloc(32, 7).toString('base64'))
      const file = join(root, 'etc/mtls-gateway/config/gateway.yaml')
      writeFileSync(file, text)
      // Throws a ConfigError naming every problem; endpoint bundles are only read later (helm.test.ts checks them).
      const config = loadConfig(file)
      expect(config.store.kind).toBe('redis')
      expect(config.store.redis.password).toBe('redis-pass')
    } finally {
      for (const k of Object.keys(env)) delete process.env[k]
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('Redis topologies in the chart', () => {
  it('Sentinel over TLS: addresses and primary name, secrets from the Secret, TLS material mounted, egress to Sentinels and data port', () => {
    const store = get('redis-sentinel-tls').gatewayConfig().store
    expect(store).toEqual({
      kind: 'redis',
      keyPrefix: 'mtls-gateway:',
      redis: {
        sentinel: { addresses: ['redis-node-0.redis-headless.data:26379', 'redis-node-1.redis-headless.data:26379', 'redis-node-2.redis-headless.data:26379'], primaryName: 'gateway', password: '${env:MTLS_GATEWAY_REDIS_SENTINEL_PASSWORD}' },
        password: '${env:MTLS_GATEWAY_REDIS_PASSWORD}',
        tls: { ca: '/etc/mtls-gateway/redis-tls/ca.crt', cert: '/etc/mtls-gateway/redis-tls/tls.crt', key: '/etc/mtls-gateway/redis-tls/tls.key', serverName: 'redis.data.svc' },
      },
      sealKeys: [{ id: 'k1', key: '${file:/etc/mtls-gateway/seal-keys/k1}' }],
    })
    const env = container('redis-sentinel-tls').env as Manifest[]
    expect(env.map((e) => e.name)).not.toContain('MTLS_GATEWAY_REDIS_URL')
    expect(env).toContainEqual({ name: 'MTLS_GATEWAY_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'mtls-gateway-redis', key: 'password' } } })
    expect(env).toContainEqual({ name: 'MTLS_GATEWAY_REDIS_SENTINEL_PASSWORD', valueFrom: { secretKeyRef: { name: 'mtls-gateway-redis', key: 'sentinel-password' } } })
    const pod = get('redis-sentinel-tls').get('Deployment').spec.template.spec
    expect(pod.volumes).toContainEqual({ name: 'redis-tls', secret: { secretName: 'mtls-gateway-redis-tls', defaultMode: 288 } })
    expect(container('redis-sentinel-tls').volumeMounts).toContainEqual({ name: 'redis-tls', mountPath: '/etc/mtls-gateway/redis-tls', readOnly: true })
    expect(egressPorts('redis-sentinel-tls').sort()).toEqual([26379, 6380])
  })

  it('Cluster: seed nodes, replica acknowledgement, readiness gating, egress to the nodes\' port', () => {
    expect(get('redis-cluster').gatewayConfig().store).toMatchObject({
      kind: 'redis',
      redis: { cluster: { nodes: ['redis-cluster-0.redis-cluster-headless.data:6379', 'redis-cluster-1.redis-cluster-headless.data:6379'] }, replicasToAcknowledge: 1, gateReadiness: true },
    })
    // Off unless asked for: the gateway's own default then applies.
    expect(get('redis-sentinel-tls').gatewayConfig().store.redis).not.toHaveProperty('gateReadiness')
    expect(get('redis-cluster').gatewayConfig().store.url).toBeUndefined()
    expect(egressPorts('redis-cluster')).toEqual([6379])
  })

  // Before, the gateway refused the pair whatever the values, and pods of such a release crash-looped.
  it('a URL Secret with user:password and the same password under passwordKey: the config the chart writes loads (a warning at store.redis.password); two different passwords are refused there, neither shown', async () => {
    const rendered = await r.render([valuesFile('redis-replicas')], 'store:\n  redis:\n    passwordKey: password\n')
    expect(rendered.gatewayConfig().store).toMatchObject({ url: '${env:MTLS_GATEWAY_REDIS_URL}', redis: { password: '${env:MTLS_GATEWAY_REDIS_PASSWORD}' } })
    const root = mkdtempSync(join(tmpdir(), 'chart-redis-twice-'))
    const load = (url: string, password: string): ReturnType<typeof loadConfig> => {
      const text = (rendered.all('ConfigMap').find((d) => d.data?.['gateway.yaml'])?.data['gateway.yaml'] as string).replaceAll('/etc/mtls-gateway/', `${root}/etc/mtls-gateway/`).replaceAll('/var/lib/mtls-gateway', `${root}/var/lib/mtls-gateway`)
      mkdirSync(join(root, 'etc/mtls-gateway/config'), { recursive: true })
      mkdirSync(join(root, 'etc/mtls-gateway/seal-keys'), { recursive: true })
      writeFileSync(join(root, 'etc/mtls-gateway/seal-keys/k1'), Buffer.alloc(32, 7).toString('base64'))
      const file = join(root, 'etc/mtls-gateway/config/gateway.yaml')
      writeFileSync(file, text)
      return loadConfig(file, { env: { ...process.env, MTLS_GATEWAY_REDIS_URL: url, MTLS_GATEWAY_REDIS_PASSWORD: password } })
    }
    try {
      const config = load('redis://gw:S3cret-pa55@redis.data.svc:6379/0', 'S3cret-pa55')
      expect(config.store.redis.password).toBe('S3cret-pa55')
      expect(repeatedRedisCredentialWarnings(config).map((w) => [w.key, w.msg])).toEqual([['store.redis.password', 'the same value is in store.url: the Redis client uses the URL\'s; a rotation must change both (a new store.url needs a restart), so give it in one place']])
      let refused: unknown
      try {
        load('redis://gw:S3cret-pa55@redis.data.svc:6379/0', 'Other-pa55')
      } catch (e) {
        refused = e
      }
      expect(refused).toBeInstanceOf(ConfigError)
      const problems = (refused as ConfigError).problems
      expect(problems.map((p) => [p.key, p.msg])).toEqual([['store.redis.password', "differs from the password store.url holds: the Redis client uses the URL's and ignores this key; give the credentials in one place (or the same in both)"]])
      expect(JSON.stringify(problems)).not.toMatch(/pa55/)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('dev values with a password in store.redis.url and another in store.redis.password fail to render, naming the fix; the same one renders', async () => {
    const base = [valuesFile('minimal')]
    const dev = (url: string, password: string): string => `store:\n  kind: redis\n  redis:\n    url: "${url}"\n    password: ${password}\n`
    const refusal = 'store.redis.url holds a password (or a user without one) and store.redis.password another'
    expect(await r.renderError(base, dev('redis://gw:dev-password@redis:6379/0', 'other-password'))).toContain(refusal)
    expect(await r.renderError(base, dev('redis://gw@redis:6379/0', 'dev-password'))).toContain(refusal)
    for (const same of [dev('redis://gw:dev-password@redis:6379/0', 'dev-password'), dev('redis://:dev-password@redis:6379/0', 'dev-password'), dev('redis://redis:6379/0', 'dev-password'), dev('redis://gw:dev%2Dpassword@redis:6379/0', 'dev-password')]) {
      expect(Object.keys((await r.render(base, same)).get('Secret').data).sort()).toEqual(['password', 'url'])
    }
  })

  it('dev values make one Secret with the URL and password; contradictions are refused with the fix', async () => {
    const dev = await r.render([valuesFile('minimal')], 'store:\n  kind: redis\n  redis:\n    url: rediss://redis:6380/0\n    password: dev-password\n    tls:\n      enabled: true\n')
    expect(Object.keys(dev.get('Secret').data).sort()).toEqual(['password', 'url'])
    expect(dev.gatewayConfig().store).toMatchObject({ url: '${env:MTLS_GATEWAY_REDIS_URL}', redis: { password: '${env:MTLS_GATEWAY_REDIS_PASSWORD}', tls: {} } })
    const base = [valuesFile('minimal')]
    expect(await r.renderError(base, 'store:\n  kind: redis\n  redis:\n    mode: sentinel\n')).toContain('store.redis.sentinel.addresses is empty')
    expect(await r.renderError(base, 'store:\n  kind: redis\n  redis:\n    mode: cluster\n    existingSecret: s\n')).toContain('store.redis.cluster.nodes is empty')
    expect(await r.renderError(base, 'store:\n  kind: redis\n  redis:\n    mode: cluster\n    url: redis://x:6379\n    cluster: { nodes: ["a:6379"] }\n')).toContain('give store.redis.cluster.nodes instead')
    expect(await r.renderError(base, 'store:\n  kind: redis\n  redis:\n    url: redis://x:6379\n    tls: { enabled: true, clientCertificate: true }\n')).toContain('store.redis.tls.secretName')
  })
})
