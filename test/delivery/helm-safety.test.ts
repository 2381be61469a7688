/**
 * The chart's safety rules, each rendered: no open proxy unless asked for, NetworkPolicy egress
 * for connectors and pass-through targets, derived names within 63 characters, endpoint volume
 * names that cannot collide, the gateway's own schema in values.schema.json, the interception
 * CA Secret, and soft spreading of replicas by default.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderChartValuesSchema } from '../../scripts/chart-schema.js'
import { buildRenderer, CHART, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

const run = promisify(execFile)
let r: Renderer
let full: Rendered
let minimal: Rendered
const MINIMAL = valuesFile('minimal')
const NO_PEERS = 'networkPolicy:\n  ingressFrom: []\n'
const OPEN = /this release would be an open proxy: .*Configure callers \(config\.callers\.apps.*networkPolicy\.ingressFrom.*set allowOpenProxy=true/

beforeAll(async () => {
  r = buildRenderer()
  full = await r.render([valuesFile('full')])
  minimal = await r.render([MINIMAL])
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const egressPorts = (x: Rendered): number[][] => (x.get('NetworkPolicy').spec.egress as Manifest[]).map((rule) => (rule.ports as Manifest[]).map((p) => p.port as number))
let notesFiles = 0
const notes = async (extra: string): Promise<string> => {
  const file = join(r.dir, `notes-${++notesFiles}.yaml`)
  writeFileSync(file, extra)
  return (await run(r.bin, ['--notes', '-f', MINIMAL, '-f', file, '--namespace', 'gateway', '--name', 'egress', CHART])).stdout
}

describe('no open proxy by default', () => {
  it('refuses a release without callers and without ingressFrom peers, naming both fixes', async () => {
    expect(await r.renderError([MINIMAL], NO_PEERS)).toMatch(OPEN)
  })

  it('refuses callers.required: false without peers, and peers that no NetworkPolicy enforces', async () => {
    expect(await r.renderError([MINIMAL], `${NO_PEERS}config:\n  callers:\n    required: false\n`)).toMatch(OPEN)
    expect(await r.renderError([MINIMAL], 'networkPolicy:\n  enabled: false\n')).toMatch(OPEN)
  })

  it('renders with callers, or with peers, and with allowOpenProxy: true (NOTES then warns)', async () => {
    const callers = `${NO_PEERS}config:\n  callers:\n    apps:\n      - clientId: bot\n        audience: gw\n        hs256Secret: \${env:BOT_SECRET}\n        endpoints: ["*"]\n`
    expect((await r.render([MINIMAL], callers)).gatewayConfig().callers.apps).toHaveLength(1)
    // Without callers the chart's own check (peers, or allowOpenProxy) decided: the rendered file
    // says so, as the gateway requires of a listener on every address (::) without caller authentication.
    expect(minimal.gatewayConfig().callers).toEqual({ required: false })
    expect(minimal.gatewayConfig().listen.host).toBe('::')
    expect(minimal.get('NetworkPolicy').spec.ingress[0].from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'bot-runtime' } } }])
    expect((await r.render([MINIMAL], `${NO_PEERS}allowOpenProxy: true\n`)).get('Deployment')).toBeDefined()
    expect(await notes(`${NO_PEERS}allowOpenProxy: true\n`)).toMatch(/WARNING: allowOpenProxy is true and this release is an OPEN PROXY/)
    expect(await notes('')).not.toMatch(/OPEN PROXY/)
  })
})

describe('NetworkPolicy egress', () => {
  it('allows the port of each endpoints[].via connector', () => {
    expect(egressPorts(full)).toContainEqual([3128])
    const viaOnly = egressPorts(minimal)
    expect(viaOnly.flat()).not.toContain(3128)
  })

  it('allows each interception.passThrough target port (default 443)', () => {
    const rule = (full.get('NetworkPolicy').spec.egress as Manifest[]).find((e) => (e.ports as Manifest[]).some((p) => p.port === 8443) && (e.ports as Manifest[]).some((p) => p.port === 443))
    expect(rule?.ports).toEqual([{ port: 443, protocol: 'TCP' }, { port: 8443, protocol: 'TCP' }])
  })

  it('still allows each endpoint port, the OAuth token port and DNS, and nothing without a port', () => {
    const ports = egressPorts(full)
    for (const want of [[53, 53], [8443], [443], [7443, 7444], [9443]]) expect(ports).toContainEqual(want)
    for (const p of ports) expect(p.length).toBeGreaterThan(0)
  })
})

describe('names', () => {
  it('keeps every derived name within 63 characters and distinct, the suffix kept', async () => {
    const long = 'x'.repeat(63)
    const x = await r.render([valuesFile('full')], `fullnameOverride: ${long}\n`)
    const names = x.docs.map((d) => `${d.kind}/${d.metadata.name}`)
    for (const d of x.docs) expect((d.metadata.name as string).length, `${d.kind}/${d.metadata.name}`).toBeLessThanOrEqual(63)
    expect(new Set(names).size).toBe(names.length)
    const services = x.all('Service').map((s) => s.metadata.name as string)
    expect(services).toContain(long)
    expect(services).toContainEqual(expect.stringMatching(/^x{55}-metrics$/))
    expect(x.get('PersistentVolumeClaim').metadata.name).toMatch(/^x{57}-state$/)
    expect(x.get('Deployment').spec.template.spec.volumes).toContainEqual({ name: 'state', persistentVolumeClaim: { claimName: `${'x'.repeat(57)}-state` } })
    for (const d of x.docs) expect(validateManifest(d), `${d.kind}/${d.metadata.name}`).toEqual([])
  })

  it('refuses endpoint names that map to the same volume name, naming both', async () => {
    const two = (a: string, b: string): string => `endpoints:\n  - name: ${a}\n    url: https://a.example\n    tls:\n      secretName: a-tls\n  - name: ${b}\n    url: https://b.example\n    tls:\n      secretName: b-tls\n`
    expect(await r.renderError([MINIMAL], two('ledger_v2', 'ledger-v2'))).toContain('endpoints "ledger_v2" and "ledger-v2" both map to the volume name "tls-ledger-v2"')
    const a = `${'e'.repeat(60)}abc`
    const b = `${'e'.repeat(60)}xyz`
    expect(await r.renderError([MINIMAL], two(a, b))).toMatch(/both map to the volume name "tls-e{59}" \(names are lower-cased.*rename one of them/)
  })
})

describe('values.schema.json validates the gateway config', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
  const base = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>

  it('is current with the gateway schema (npm run schema)', () => {
    const text = readFileSync(join(CHART, 'values.schema.json'), 'utf8')
    expect(text).toBe(renderChartValuesSchema(text))
  })

  it('refuses a typo or a wrong value in config and in endpoints, as the gateway would', () => {
    const endpoint = { name: 'partner', url: 'https://api.partner.example', tls: { secretName: 'partner-tls' } }
    expect(validate({ ...base, endpoints: [endpoint] }), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...base, config: { limits: { maxBufferedBodyy: '1MiB' } } })).toBe(false)
    expect(validate({ ...base, config: { callers: { requried: true } } })).toBe(false)
    expect(validate({ ...base, config: { listen: { port: 8081 } } })).toBe(false)
    expect(validate({ ...base, endpoints: [{ ...endpoint, tls: { ...endpoint.tls, minVersion: 'TLSv1.9' } }] })).toBe(false)
    expect(validate({ ...base, endpoints: [{ ...endpoint, timeout: { connect: '1s' } }] })).toBe(false)
    expect(validate({ ...base, endpoints: [{ ...endpoint, url: 'http://plain.example' }] })).toBe(false)
    expect(validate({ ...base, endpoints: [{ ...endpoint, egress: { ports: [8443] } }] })).toBe(true)
  })

  it('refuses a drain grace past drain.grace\'s maximum (596h), which the gateway would refuse at start', () => {
    const gateway = base.gateway as Record<string, unknown>
    const endpoints = [{ name: 'partner', url: 'https://api.partner.example', tls: { secretName: 'partner-tls' } }]
    expect(validate({ ...base, endpoints, gateway: { ...gateway, drainGraceSeconds: 596 * 3600 } }), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...base, endpoints, gateway: { ...gateway, drainGraceSeconds: 596 * 3600 + 1 } })).toBe(false)
  })
})

describe('interception CA Secret', () => {
  it('mounts interception.caSecretName read-only and points config.interception at it', () => {
    const pod = full.get('Deployment').spec.template.spec
    expect(pod.volumes).toContainEqual({ name: 'interception-ca', secret: { secretName: 'mtls-gateway-interception-ca', defaultMode: 0o440 } })
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'interception-ca', mountPath: '/etc/mtls-gateway/interception-ca', readOnly: true })
    expect(full.gatewayConfig().interception).toMatchObject({ caCert: '/etc/mtls-gateway/interception-ca/tls.crt', caKey: '/etc/mtls-gateway/interception-ca/tls.key', leafValidity: '12h' })
  })

  it('refuses the CA given twice, and interception without any CA', async () => {
    expect(await r.renderError([valuesFile('full')], 'config:\n  interception:\n    caCert: /x.crt\n    caKey: /x.key\n')).toContain('give the interception CA once')
    expect(await r.renderError([MINIMAL], 'config:\n  interception:\n    passThrough:\n      - host: a.example\n')).toContain('config.interception needs its CA: set interception.caSecretName')
  })
})

describe('scheduling defaults', () => {
  it('prefers replicas on different nodes and zones, softly, unless affinity/topologySpreadConstraints are given', async () => {
    const pod = minimal.get('Deployment').spec.template.spec
    const selector = { matchLabels: { 'app.kubernetes.io/name': 'mtls-gateway', 'app.kubernetes.io/instance': 'egress' } }
    // matchLabelKeys: only this ReplicaSet's pods count (helm-cluster-edges.test.ts, by Kubernetes version; the renderer's default is 1.31).
    const ownReplicaSet = { matchLabelKeys: ['pod-template-hash'] }
    expect(pod.affinity.podAntiAffinity).toEqual({ preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: selector, ...ownReplicaSet } }] })
    expect(pod.topologySpreadConstraints).toEqual([{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector, ...ownReplicaSet }])
    expect(full.get('Deployment').spec.template.spec.affinity.podAntiAffinity).toBeUndefined()
    const off = (await r.render([MINIMAL], 'scheduling:\n  softAntiAffinity: false\n  zoneSpread: false\n')).get('Deployment').spec.template.spec
    expect(off.affinity).toBeUndefined()
    expect(off.topologySpreadConstraints).toBeUndefined()
  })
})

describe('the PodDisruptionBudget always lets a node drain (seeded property)', () => {
  // Kubernetes' arithmetic: a percentage of the replicas, rounded up, for either field.
  const scaled = (v: number | string, n: number): number => (typeof v === 'number' ? v : Math.ceil((Number(v.slice(0, -1)) * n) / 100))
  const budget = fc.oneof(
    fc.integer({ min: 0, max: 6 }).map((v) => ({ minAvailable: v as number | string })),
    fc.integer({ min: 0, max: 100 }).map((p) => ({ minAvailable: `${p}%` as number | string })),
    fc.integer({ min: 0, max: 3 }).map((v) => ({ maxUnavailable: v as number | string })),
    fc.constantFrom(0, 10, 50).map((p) => ({ maxUnavailable: `${p}%` as number | string })),
  )
  const values = fc.record({ replicas: fc.integer({ min: 1, max: 5 }), hpa: fc.boolean(), budget })

  it('renders a budget that allows an eviction at the fewest replicas, or refuses it naming the key', async () => {
    const REDIS = valuesFile('redis-replicas')
    let refused = 0
    await fc.assert(
      fc.asyncProperty(values, async (v) => {
        const pdb = { minAvailable: '', maxUnavailable: 1, ...v.budget }
        const extra = stringify({ replicaCount: v.replicas, autoscaling: { enabled: v.hpa, minReplicas: v.replicas }, podDisruptionBudget: pdb })
        const evictable = pdb.minAvailable !== '' ? v.replicas - scaled(pdb.minAvailable, v.replicas) : scaled(pdb.maxUnavailable, v.replicas)
        if (evictable <= 0) {
          refused++
          const key = pdb.minAvailable !== '' ? 'minAvailable' : 'maxUnavailable'
          return void expect(await r.renderError([REDIS], extra)).toContain(`podDisruptionBudget.${key} ${String(pdb[key])} allows no pod to be evicted at ${v.replicas} replica(s)`)
        }
        const spec = (await r.render([REDIS], extra)).get('PodDisruptionBudget').spec as Manifest
        expect(spec.minAvailable ?? spec.maxUnavailable).toEqual(pdb.minAvailable !== '' ? pdb.minAvailable : pdb.maxUnavailable)
      }),
      { seed: 24_020, numRuns: 40 },
    )
    expect(refused).toBeGreaterThan(5)
  }, 5 * 60_000)
})
