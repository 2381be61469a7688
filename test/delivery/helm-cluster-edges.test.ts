/**
 * The chart as a cluster operator meets it beyond the defaults' own cluster: DNS that is not
 * the kube-dns pods (NodeLocal DNSCache on a link-local address, CoreDNS labelled otherwise,
 * OpenShift's dns-default on 5353), an image mirrored to a private registry (image.registry,
 * image.digest), and zone spreading that counts only the pods of the rollout's own ReplicaSet
 * (matchLabelKeys: [pod-template-hash], from the Kubernetes version that honours it). Each
 * rendered by the chart-render tool and checked against the Kubernetes schemas.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, parseRendered, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

const run = promisify(execFile)
let r: Renderer
const MINIMAL = valuesFile('minimal')
const KUBE_DNS = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }
const udpTcp = (ports: number[]): Manifest[] => ports.flatMap((port) => [{ port, protocol: 'UDP' }, { port, protocol: 'TCP' }])

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const schema = (): ((v: unknown) => boolean) & { errors?: unknown } => new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
/** The chart's defaults with `patch` merged over the top-level keys it names (one level deep). */
const defaultsWith = (patch: Record<string, Record<string, unknown>>): Record<string, unknown> => {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, Record<string, unknown>>
  return { ...values, ...Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, { ...values[k], ...v }])) }
}
/** The egress rule that carries DNS: the first one (the chart writes it first). */
const dnsRule = (x: Rendered): Manifest => (x.get('NetworkPolicy').spec.egress as Manifest[])[0] as Manifest
const dnsValues = (dns: Record<string, unknown>): string => stringify({ networkPolicy: { dns } })

describe('DNS egress beyond kube-dns', () => {
  it('admits the kube-dns pods on 53/UDP and 53/TCP by default', async () => {
    const x = await r.render([MINIMAL])
    expect(dnsRule(x)).toEqual({ to: [KUBE_DNS], ports: udpTcp([53]) })
  })

  it('NodeLocal DNSCache: its link-local address as a CIDR, next to kube-dns', async () => {
    const x = await r.render([MINIMAL], dnsValues({ cidrs: ['169.254.20.10/32'] }))
    expect(dnsRule(x)).toEqual({ to: [KUBE_DNS, { ipBlock: { cidr: '169.254.20.10/32' } }], ports: udpTcp([53]) })
    expect(validateManifest(x.get('NetworkPolicy'))).toEqual([])
  })

  it('OpenShift: dns-default pods in openshift-dns, listening on 5353', async () => {
    // k8s-app: null drops the chart's default label: Helm merges the two matchLabels maps.
    const openshift = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'openshift-dns' } }, podSelector: { matchLabels: { 'k8s-app': null, 'dns.operator.openshift.io/daemonset-dns': 'default' } }, ports: [53, 5353] }
    const x = await r.render([MINIMAL], dnsValues(openshift))
    const podSelector = { matchLabels: { 'dns.operator.openshift.io/daemonset-dns': 'default' } }
    expect(dnsRule(x)).toEqual({ to: [{ namespaceSelector: openshift.namespaceSelector, podSelector }], ports: udpTcp([53, 5353]) })
    expect(validateManifest(x.get('NetworkPolicy'))).toEqual([])
  })

  it('refuses a selector that keeps the chart\'s default label beside the operator\'s own (it would match no DNS pod), naming the null that replaces it', async () => {
    const err = await r.renderError([MINIMAL], dnsValues({ podSelector: { matchLabels: { 'dns.operator.openshift.io/daemonset-dns': 'default' } } }))
    expect(err).toContain("networkPolicy.dns.podSelector keeps the chart's default k8s-app: kube-dns beside your own terms")
    expect(err).toContain('podSelector: {matchLabels: {k8s-app: null')
    expect(await r.renderError([MINIMAL], dnsValues({ namespaceSelector: { matchExpressions: [{ key: 'x', operator: 'Exists' }] } }))).toContain('networkPolicy.dns.namespaceSelector keeps')
    // The same key with another value replaces it: nothing to refuse.
    const coredns = await r.render([MINIMAL], dnsValues({ podSelector: { matchLabels: { 'k8s-app': 'coredns' } } }))
    expect(dnsRule(coredns).to).toEqual([{ ...KUBE_DNS, podSelector: { matchLabels: { 'k8s-app': 'coredns' } } }])
    // {} merges into the default and changes nothing; every namespace is the default label set to null.
    expect(dnsRule(await r.render([MINIMAL], dnsValues({ namespaceSelector: {} }))).to).toEqual([KUBE_DNS])
    const everyNamespace = await r.render([MINIMAL], dnsValues({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': null } } }))
    expect(dnsRule(everyNamespace).to).toEqual([{ ...KUBE_DNS, namespaceSelector: { matchLabels: {} } }])
  })

  it('CIDRs only: both selectors set to null leave no selector peer', async () => {
    const x = await r.render([MINIMAL], 'networkPolicy:\n  dns:\n    namespaceSelector: null\n    podSelector: null\n    cidrs: [10.96.0.10/32, "fd00::a/128"]\n')
    expect(dnsRule(x)).toEqual({ to: [{ ipBlock: { cidr: '10.96.0.10/32' } }, { ipBlock: { cidr: 'fd00::a/128' } }], ports: udpTcp([53]) })
  })

  it('refuses a DNS rule with no destination (it would admit port 53 anywhere), naming the fix', async () => {
    const err = await r.renderError([MINIMAL], 'networkPolicy:\n  dns:\n    namespaceSelector: null\n    podSelector: null\n')
    expect(err).toContain('networkPolicy.dns has no destination')
    expect(err).toContain('networkPolicy.dns.cidrs')
  })

  it('values.schema.json takes cidrs and ports, and refuses an address without a prefix or a port out of range', () => {
    const validate = schema()
    const np = (dns: Record<string, unknown>): unknown => defaultsWith({ networkPolicy: { dns: { enabled: true, ...dns } } })
    expect(validate(np({ cidrs: ['169.254.20.10/32'], ports: [53, 5353] })), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(np({ cidrs: ['169.254.20.10'] }))).toBe(false)
    expect(validate(np({ ports: [0] }))).toBe(false)
    expect(validate(np({ ports: [] }))).toBe(false)
    expect(validate(np({ nodeLocal: true }))).toBe(false)
  })

  it('admits exactly the configured peers and ports as Helm merges them over the defaults, or refuses (seeded property)', async () => {
    // Labels over the defaults' keys too, null among the values: Helm merges maps and a null deletes.
    const labels = fc.dictionary(fc.constantFrom('k8s-app', 'kubernetes.io/metadata.name', 'app'), fc.constantFrom('kube-dns', 'kube-system', 'coredns', null), { maxKeys: 2 })
    const selector = fc.option(labels.map((matchLabels) => ({ matchLabels })), { nil: null, freq: 3 })
    const cidr = fc.oneof(fc.ipV4().map((a) => `${a}/32`), fc.constantFrom('169.254.20.10/32', '10.96.0.0/12', 'fd00::10/128'))
    const dns = fc.record({
      namespaceSelector: selector,
      podSelector: selector,
      cidrs: fc.uniqueArray(cidr, { maxLength: 2 }),
      ports: fc.uniqueArray(fc.integer({ min: 1, max: 65_535 }), { minLength: 1, maxLength: 3 }),
    })
    const merged = (given: { matchLabels: Record<string, string | null> } | null, defaults: Manifest): Manifest | null => {
      if (given === null) return null
      const out: Record<string, string> = { ...defaults.matchLabels }
      for (const [k, v] of Object.entries(given.matchLabels)) if (v === null) delete out[k]; else out[k] = v
      return { matchLabels: out }
    }
    const keepsDefault = (s: Manifest | null, [key, value]: [string, string]): boolean => s !== null && s.matchLabels[key] === value && Object.keys(s.matchLabels).length > 1
    const validate = schema()
    const counts = { refused: 0, rendered: 0 }
    await fc.assert(
      fc.asyncProperty(dns, async (d) => {
        const extra = dnsValues(d)
        const ns = merged(d.namespaceSelector, KUBE_DNS.namespaceSelector)
        const pod = merged(d.podSelector, KUBE_DNS.podSelector)
        if (keepsDefault(ns, ['kubernetes.io/metadata.name', 'kube-system']) || keepsDefault(pod, ['k8s-app', 'kube-dns'])) {
          counts.refused++
          return void expect(await r.renderError([MINIMAL], extra)).toContain("keeps the chart's default")
        }
        const peer = { ...(ns ? { namespaceSelector: ns } : {}), ...(pod ? { podSelector: pod } : {}) }
        const to = [...(Object.keys(peer).length > 0 ? [peer] : []), ...d.cidrs.map((c) => ({ ipBlock: { cidr: c } }))]
        if (to.length === 0) {
          counts.refused++
          return void expect(await r.renderError([MINIMAL], extra)).toContain('networkPolicy.dns has no destination')
        }
        counts.rendered++
        const x = await r.render([MINIMAL], extra)
        expect(dnsRule(x)).toEqual({ to, ports: udpTcp(d.ports) })
        expect(validateManifest(x.get('NetworkPolicy'))).toEqual([])
        const file = join(r.dir, 'dns-values.yaml')
        writeFileSync(file, extra)
        expect(validate(await r.values([MINIMAL, file])), JSON.stringify(validate.errors)).toBe(true)
      }),
      { seed: 34_053, numRuns: 80 },
    )
    expect(counts.refused).toBeGreaterThan(5)
    expect(counts.rendered).toBeGreaterThan(20)
  }, 5 * 60_000)
})

describe('the image reference', () => {
  const image = async (extra: string): Promise<string> => (await r.render([MINIMAL], extra)).get('Deployment').spec.template.spec.containers[0].image as string

  it('is repository:appVersion by default, registry/repository:tag or registry/repository@digest with image.registry', async () => {
    expect(await image('')).toBe('mtls-gateway:0.1.0')
    expect(await image('image:\n  registry: registry.example.com:5000\n  repository: platform/mtls-gateway\n  tag: 0.1.1\n')).toBe('registry.example.com:5000/platform/mtls-gateway:0.1.1')
    const digest = `sha256:${'ab'.repeat(32)}`
    expect(await image(`image:\n  registry: mirror.example.com/hub\n  digest: ${digest}\n  tag: ignored\n`)).toBe(`mirror.example.com/hub/mtls-gateway@${digest}`)
    const full = await r.render([valuesFile('full')])
    expect(full.get('Deployment').spec.template.spec.containers[0].image).toBe('registry.example.com/platform/mtls-gateway:0.1.0')
  })

  it('refuses a registry given twice (in image.registry and at the head of image.repository), naming the fix', async () => {
    for (const repo of ['registry.example.com/platform/mtls-gateway', 'localhost:5000/mtls-gateway', 'localhost/mtls-gateway']) {
      const err = await r.renderError([MINIMAL], `image:\n  registry: mirror.example.com\n  repository: ${repo}\n`)
      expect(err, repo).toContain('image.repository already names a registry')
    }
    expect(await image('image:\n  registry: mirror.example.com\n  repository: library/mtls-gateway\n')).toBe('mirror.example.com/library/mtls-gateway:0.1.0')
  })

  it('values.schema.json takes a registry host[:port][/path] and refuses a scheme, a trailing slash, a tag or digest in the wrong key', () => {
    const validate = schema()
    const img = (v: Record<string, unknown>): unknown => defaultsWith({ image: v })
    for (const registry of ['', 'registry.example.com', 'registry.example.com:5000', 'harbor.example.com/mirror', 'localhost:5000']) {
      expect(validate(img({ registry })), `${registry}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
    for (const registry of ['https://registry.example.com', 'registry.example.com/', 'registry example.com']) expect(validate(img({ registry })), registry).toBe(false)
    expect(validate(img({ repository: 'mtls-gateway:0.1.0' }))).toBe(false)
    expect(validate(img({ repository: 'mtls-gateway@sha256:abc' }))).toBe(false)
    expect(validate(img({ repository: 'localhost:5000/mtls-gateway' }))).toBe(true)
    expect(validate(img({ tag: '0.1.0@sha256:abc' }))).toBe(false)
    expect(validate(img({ tag: 'v0.1.0-rc.1' }))).toBe(true)
  })
})

describe('spreading counts only the rollout\'s own ReplicaSet', () => {
  const podSpec = async (kube: string, extra = ''): Promise<Manifest> => {
    const file = join(r.dir, `edges-${kube}.yaml`)
    writeFileSync(file, extra)
    const { stdout } = await run(r.bin, ['--kube-version', kube, '-f', MINIMAL, '-f', file, '--namespace', 'gateway', '--name', 'egress', CHART])
    const deployment = parseRendered(stdout).find((d) => d.kind === 'Deployment') as Manifest
    expect(validateManifest(deployment)).toEqual([])
    return deployment.spec.template.spec as Manifest
  }
  const spreadKeys = (pod: Manifest): unknown => pod.topologySpreadConstraints[0].matchLabelKeys
  const antiAffinityKeys = (pod: Manifest): unknown => pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.matchLabelKeys

  it('the default zone spread has matchLabelKeys [pod-template-hash] from Kubernetes 1.27, the anti-affinity from 1.31', async () => {
    const v131 = await podSpec('v1.31.0')
    expect(spreadKeys(v131)).toEqual(['pod-template-hash'])
    expect(antiAffinityKeys(v131)).toEqual(['pod-template-hash'])
    const v127 = await podSpec('v1.27.3')
    expect(spreadKeys(v127)).toEqual(['pod-template-hash'])
    expect(antiAffinityKeys(v127)).toBeUndefined()
    // 1.29 and 1.30 have the anti-affinity field as alpha (gate off: dropped).
    expect(antiAffinityKeys(await podSpec('v1.30.5'))).toBeUndefined()
    // 1.25 and 1.26 drop the field (alpha, gate off): the chart does not write what the cluster ignores.
    const v126 = await podSpec('v1.26.9')
    expect(spreadKeys(v126)).toBeUndefined()
    expect(antiAffinityKeys(v126)).toBeUndefined()
  })

  it('leaves the operator\'s own topologySpreadConstraints as written', async () => {
    const own = { maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { a: 'b' } } }
    expect((await podSpec('v1.31.0', stringify({ topologySpreadConstraints: [own] }))).topologySpreadConstraints).toEqual([own])
  })
})

describe('other edges of an install', () => {
  // Kubernetes' label value: at most 63 characters, alphanumeric at both ends.
  const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

  it('keeps app.kubernetes.io/version a valid label value for any tag the schema takes (a 128-character tag, "_" first, "." last)', async () => {
    const validate = schema()
    for (const tag of [`main-${'0123456789abcdef'.repeat(5)}-20261205`, '_build.', 'v1-']) {
      expect(validate(defaultsWith({ image: { tag } })), tag).toBe(true)
      for (const doc of (await r.render([MINIMAL], stringify({ image: { tag } }))).docs) {
        const version = doc.metadata.labels['app.kubernetes.io/version'] as string
        expect(version.length, `${doc.kind} ${tag}`).toBeLessThanOrEqual(63)
        expect(version, `${doc.kind} ${tag}`).toMatch(LABEL_VALUE)
      }
    }
  })

  it('names the image in NOTES.txt, and says so when it has no registry (none is published on Docker Hub)', async () => {
    const notes = async (extra: string): Promise<string> => {
      const file = join(r.dir, 'notes-image.yaml')
      writeFileSync(file, extra)
      return (await run(r.bin, ['--notes', '-f', MINIMAL, '-f', file, '--namespace', 'gateway', '--name', 'egress', CHART])).stdout
    }
    const bare = await notes('')
    expect(bare).toContain('Image: mtls-gateway:0.1.0\n  (no registry: the kubelet pulls it from Docker Hub')
    for (const extra of ['image:\n  registry: registry.example.com\n', 'image:\n  repository: registry.example.com:5000/mtls-gateway\n', 'image:\n  repository: localhost/mtls-gateway\n']) {
      const text = await notes(extra)
      expect(text, extra).toMatch(/Image: \S+\/mtls-gateway:0\.1\.0\n/)
      expect(text, extra).not.toContain('no registry')
    }
  })

  it('renders without fixed user and group ids (OpenShift\'s restricted SCC assigns its own), still non-root', async () => {
    const pod = (await r.render([MINIMAL], 'podSecurityContext:\n  runAsUser: null\n  runAsGroup: null\n  fsGroup: null\nsecurityContext:\n  runAsUser: null\n  runAsGroup: null\n')).get('Deployment').spec.template.spec
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } })
    expect(pod.containers[0].securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true })
    expect(pod.containers[0].securityContext.runAsUser).toBeUndefined()
  })
})
