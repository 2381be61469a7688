/**
 * `helm test <release>`: the chart's test hook runs `mtls-gateway test-endpoint --all` in a pod
 * that reads exactly what the gateway's pods read (the same config file, environment, mounts and
 * volumes, but an emptyDir for state: a ReadWriteOnce claim is the running pod's) and, with
 * networkPolicy.enabled, leaves it under the gateway pods' own egress rules and no ingress. Its
 * labels never match the gateway's selector (the Service would send callers to it), but carry the
 * operator's podLabels (and helmTest.podLabels over them): policies outside the chart that let the
 * gateway's pods out by such a label let the test pod out too. For every test values file, and
 * off with helmTest.enabled false. The pod validates as a Kubernetes Pod in
 * helm.test.ts, with every other rendered object.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
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
    expect(rendered.all('Service').length, 'the gateway\'s Services').toBeGreaterThan(0)
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

  // Before, the policy was deleted only before the next run's: it outlived every passed test (and an uninstall).
  it('its NetworkPolicy has the pod\'s hook lifecycle: replaced by the next run, deleted once the test passes', () => {
    const lifecycle = (m: Manifest): [string, string[]] => [m.metadata.annotations['helm.sh/hook'], String(m.metadata.annotations['helm.sh/hook-delete-policy']).split(',').sort()]
    const pod = lifecycle(hook(name, 'Pod'))
    expect(pod).toEqual(['test', ['before-hook-creation', 'hook-succeeded']])
    expect(lifecycle(hook(name, 'NetworkPolicy'))).toEqual(pod)
  })
})

describe('helm test hook switches', () => {
  it('renders nothing with helmTest.enabled false, and no policy without networkPolicy', async () => {
    expect((await r.render([valuesFile('minimal')], stringify({ helmTest: { enabled: false } }))).tests()).toEqual([])
    const open = await r.render([valuesFile('minimal')], stringify({ networkPolicy: { enabled: false }, allowOpenProxy: true }))
    expect(open.tests().map((d) => d.kind)).toEqual(['Pod'])
  })
})

describe('the helm test pod carries the operator\'s podLabels', () => {
  // Keys a foreign policy may select the gateway's pods by, and the chart's own (which podLabels may only repeat).
  const key = fc.constantFrom('egress.example.com/partner', 'networking/allow-internet', 'team', 'sidecar.istio.io/inject', 'app')
  const value = fc.constantFrom('true', 'false', 'pay', 'egress-gateway')
  const own = fc.constantFrom<Record<string, string>>({}, { 'app.kubernetes.io/name': 'mtls-gateway' }, { 'app.kubernetes.io/instance': 'egress' })

  it('a selector of podLabels that picks the gateway\'s pods picks the test pod, helmTest.podLabels win, and no chart selector takes it (seeded, 40 releases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, value, { maxKeys: 4 }), own, fc.dictionary(key, value, { maxKeys: 2 }), async (podLabels, repeated, testLabels) => {
        const rendered = await r.render([valuesFile('minimal')], stringify({ podLabels: { ...podLabels, ...repeated }, helmTest: { podLabels: testLabels } }))
        const labels = (rendered.tests().find((d) => d.kind === 'Pod') as Manifest).metadata.labels as Record<string, string>
        const gatewayPod = rendered.get('Deployment').spec.template.metadata.labels as Record<string, string>
        // A foreign NetworkPolicy (the backend's, a connector's, an egress gateway's) selecting the gateway by its podLabels.
        const foreign = Object.fromEntries(Object.entries(podLabels).filter(([k]) => !(k in testLabels)))
        expect(selects(foreign, gatewayPod)).toBe(true)
        expect(selects(foreign, labels), JSON.stringify(labels)).toBe(true)
        expect(selects(testLabels, labels)).toBe(true)
        expect(rendered.all('Service'), 'minimal.yaml\'s two Services').toHaveLength(2)
        for (const service of rendered.all('Service')) expect(selects(service.spec.selector, labels), service.metadata.name).toBe(false)
        expect(selects(rendered.get('PodDisruptionBudget').spec.selector.matchLabels, labels)).toBe(false)
        expect(selects(rendered.get('NetworkPolicy').spec.podSelector.matchLabels, labels)).toBe(false)
        const policy = rendered.tests().find((d) => d.kind === 'NetworkPolicy') as Manifest
        expect(selects(policy.spec.podSelector.matchLabels, labels)).toBe(true)
      }),
      { seed: 0x7e57, numRuns: 40 },
    )
  }, 120_000)
})

describe('the helm test pod carries the operator\'s podAnnotations', () => {
  // A mesh's and a secrets agent's injection, and keys the chart's hook uses (which stay its own).
  const key = fc.constantFrom('sidecar.istio.io/inject', 'linkerd.io/inject', 'vault.hashicorp.com/agent-inject', 'example.com/team', 'helm.sh/hook', 'helm.sh/hook-delete-policy')
  const value = fc.constantFrom('true', 'false', 'enabled', 'disabled', 'pre-install', '')

  it('each podAnnotation the gateway\'s pods carry reaches the test pod, helmTest.podAnnotations win key by key, the hook\'s own are refused in both (seeded, 40 releases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, value, { maxKeys: 4 }), fc.dictionary(key, value, { maxKeys: 2 }), async (podAnnotations, testAnnotations) => {
        const extra = stringify({ podAnnotations, helmTest: { podAnnotations: testAnnotations } })
        // Helm's hook annotations are the chart's: refused in either map (helm-test-hook-annotations.test.ts).
        const hookKey = [...Object.keys(podAnnotations).sort(), ...Object.keys(testAnnotations).sort()].find((k) => k.startsWith('helm.sh/hook'))
        if (hookKey !== undefined) {
          expect(await r.renderError([valuesFile('minimal')], extra)).toContain(`sets ${hookKey}, a Helm hook annotation`)
          return
        }
        const rendered = await r.render([valuesFile('minimal')], extra)
        const annotations = (rendered.tests().find((d) => d.kind === 'Pod') as Manifest).metadata.annotations as Record<string, string>
        const gatewayPod = rendered.get('Deployment').spec.template.metadata.annotations as Record<string, string>
        const hookOwn = { 'helm.sh/hook': 'test', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded', 'helm.sh/hook-output-log-policy': 'hook-failed' }
        expect(annotations).toEqual({ ...podAnnotations, ...testAnnotations, ...hookOwn })
        // What the gateway's pods carry of podAnnotations the test pod carries, but where overridden.
        for (const [k, v] of Object.entries(podAnnotations)) if (!(k in testAnnotations) && !(k in hookOwn)) expect([k, gatewayPod[k], annotations[k]]).toEqual([k, v, v])
      }),
      { seed: 0xa770, numRuns: 40 },
    )
  }, 120_000)
})

/**
 * docs/deploy.md's `helm test` commands work on every Helm 3 and 4 release. Helm 3 (to 3.21) runs
 * `--logs` after deleting a passed pod (hook-succeeded) and then fails on it; Helm 3 and 4 (to 4.2)
 * fetch a log for every test hook by the hook's name, as a pod's (pkg/action/release_testing.go,
 * GetPodLogs), so a policy named otherwise would fail `--logs` on every release: it shares the pod's
 * name. Before, the docs showed `helm test … --logs`.
 */
describe('docs/deploy.md\'s helm test commands', () => {
  const deploy = readFileSync('docs/deploy.md', 'utf8')
  const section = deploy.slice(deploy.indexOf('### `helm test`'), deploy.indexOf('\n### ', deploy.indexOf('### `helm test`') + 1))
  const commands = /```sh\n([\s\S]*?)```/.exec(section)?.[1]?.trim().split('\n') ?? []

  it('run the test without --logs, then read a failed pod\'s logs by a selector that picks the test pod and no gateway pod', () => {
    for (const file of ['README.md', 'docs/deploy.md']) expect(/helm test [^`\n]*--logs/.exec(readFileSync(file, 'utf8'))?.[0], file).toBeUndefined()
    expect(commands[0]).toBe('helm test <release> -n <namespace>')
    const logs = /^kubectl logs -n <namespace> -l (\S+) --tail=-1$/.exec(commands[1] ?? '')
    expect(logs, commands.join('\n')).not.toBeNull()
    const selector = Object.fromEntries((logs?.[1] as string).replaceAll('<release>', 'egress').split(',').map((term) => term.split('=') as [string, string]))
    for (const name of VALUES) {
      const rendered = out[name] as Rendered
      expect(selects(selector, hook(name, 'Pod').metadata.labels), name).toBe(true)
      expect(selects(selector, rendered.get('Deployment').spec.template.metadata.labels), name).toBe(false)
    }
  })

  it('the test pod\'s NetworkPolicy has the pod\'s name: Helm fetches each test hook\'s log by its name', () => {
    for (const name of VALUES) expect(hook(name, 'NetworkPolicy').metadata.name, name).toBe(hook(name, 'Pod').metadata.name)
  })
})
