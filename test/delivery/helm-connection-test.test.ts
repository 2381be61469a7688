/**
 * `helm test <release>`: the chart's test hook runs `mtls-gateway test-endpoint --all` in a pod
 * that reads exactly what the gateway's pods read (the same config file, environment, mounts and
 * volumes, but an emptyDir for state: a ReadWriteOnce claim is the running pod's) and, with
 * networkPolicy.enabled, leaves it under the gateway pods' own egress rules and no ingress. Its
 * labels never match the gateway's selector (the Service would send callers to it). For every
 * test values file, and off with helmTest.enabled false. The pod validates as a Kubernetes Pod in
 * helm.test.ts, with every other rendered object.
 */
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, TEST_VALUES, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'

let r: Renderer
const out: Record<string, Rendered> = {}
const VALUES = [...TEST_VALUES, 'redis-sentinel-tls', 'redis-cluster'] as const

beforeAll(async () => {
  r = buildRenderer()
  for (const name of VALUES) out[name] = await r.render([valuesFile(name)])
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const hook = (name: string, kind: string): Manifest => {
  const found = (out[name] as Rendered).tests().filter((d) => d.kind === kind)
  expect(found).toHaveLength(1)
  return found[0] as Manifest
}
/** Every key/value of `selector` is among `labels`. */
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v)

describe.each(VALUES)('helm/tests/%s.yaml: the helm test hook', (name) => {
  it('runs test-endpoint --all on the gateway\'s config, environment, mounts and volumes', () => {
    const rendered = out[name] as Rendered
    const pod = hook(name, 'Pod')
    const gatewaySpec = rendered.get('Deployment').spec.template.spec
    const gateway = gatewaySpec.containers[0]
    const test = pod.spec.containers[0]
    expect(pod.metadata.annotations['helm.sh/hook']).toBe('test')
    expect(pod.spec.restartPolicy).toBe('Never')
    const config = gateway.args[gateway.args.indexOf('--config') + 1]
    expect(test.args).toEqual(['test-endpoint', '--all', '--config', config])
    expect([test.image, test.env, test.envFrom, test.volumeMounts, test.securityContext]).toEqual([gateway.image, gateway.env, gateway.envFrom, gateway.volumeMounts, gateway.securityContext])
    for (const key of ['serviceAccountName', 'automountServiceAccountToken', 'securityContext', 'imagePullSecrets', 'enableServiceLinks', 'nodeSelector', 'tolerations']) expect(pod.spec[key], key).toEqual(gatewaySpec[key])
    const byName = (vs: Manifest[]): Record<string, Manifest> => Object.fromEntries(vs.map((v) => [v.name, v]))
    const [own, theirs] = [byName(pod.spec.volumes), byName(gatewaySpec.volumes)]
    expect(Object.keys(own).sort()).toEqual(Object.keys(theirs).sort())
    for (const v of Object.keys(theirs)) expect(own[v], v).toEqual(v === 'state' ? { name: 'state', emptyDir: {} } : theirs[v])
  })

  it('is never selected by the gateway\'s Service, and is held to the gateway pods\' egress with no ingress', () => {
    const rendered = out[name] as Rendered
    const labels = hook(name, 'Pod').metadata.labels as Record<string, string>
    for (const service of rendered.all('Service')) expect(selects(service.spec.selector, labels), service.metadata.name).toBe(false)
    const gatewayPolicy = rendered.get('NetworkPolicy')
    expect(selects(gatewayPolicy.spec.podSelector.matchLabels, labels)).toBe(false)
    const policy = hook(name, 'NetworkPolicy')
    expect(selects(policy.spec.podSelector.matchLabels, labels)).toBe(true)
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress'])
    expect(policy.spec.ingress).toBeUndefined()
    expect(policy.spec.egress).toEqual(gatewayPolicy.spec.egress)
    // Created before the pod (Helm runs a phase's hooks by weight).
    expect(Number(policy.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(Number(hook(name, 'Pod').metadata.annotations['helm.sh/hook-weight'] ?? 0))
  })
})

describe('helm test hook switches', () => {
  it('renders nothing with helmTest.enabled false, and no policy without networkPolicy', async () => {
    expect((await r.render([valuesFile('minimal')], stringify({ helmTest: { enabled: false } }))).tests()).toEqual([])
    const open = await r.render([valuesFile('minimal')], stringify({ networkPolicy: { enabled: false }, allowOpenProxy: true }))
    expect(open.tests().map((d) => d.kind)).toEqual(['Pod'])
  })
})
