/**
 * The admin port (/metrics, probes, the console) under the chart's NetworkPolicy: only the
 * `networkPolicy.metricsFrom` peers reach it. An empty list opens it to no pod (a NetworkPolicy
 * rule without `from` would admit every pod of the cluster); kubelet probes are not subject to
 * NetworkPolicy. A ServiceMonitor with no peer to scrape from is refused at render, naming the
 * fix; "every pod" has to be written out (`namespaceSelector: {}`). Checked on examples and as a
 * seeded property over generated values, each rendered by the chart-render tool.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, valuesFile, type Manifest, type Rendered, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

let r: Renderer
const MINIMAL = valuesFile('minimal')
const NO_MONITOR_PEERS = /serviceMonitor\.enabled needs networkPolicy\.metricsFrom peers.*namespaceSelector: \{\}/

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

/** The ingress rules that admit traffic to the admin port. */
const adminRules = (x: Rendered): Manifest[] => (x.get('NetworkPolicy').spec.ingress as Manifest[]).filter((rule) => (rule.ports as Manifest[]).some((p) => p.port === 'admin'))

describe('NetworkPolicy on the admin port', () => {
  it('metricsFrom: [] (the default) admits no pod to the admin port; the proxy port keeps its rule', async () => {
    const x = await r.render([MINIMAL])
    expect(adminRules(x)).toEqual([])
    expect(x.get('NetworkPolicy').spec.policyTypes).toContain('Ingress')
    expect(x.get('NetworkPolicy').spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }], from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'bot-runtime' } } }] }])
    expect(validateManifest(x.get('NetworkPolicy'))).toEqual([])
  })

  it('metricsFrom peers are the only sources of the admin rule', async () => {
    const x = await r.render([valuesFile('full')])
    expect(adminRules(x)).toEqual([{ ports: [{ port: 'admin', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }])
  })

  it('every pod must be asked for explicitly: namespaceSelector: {}', async () => {
    const x = await r.render([MINIMAL], 'networkPolicy:\n  metricsFrom:\n    - namespaceSelector: {}\n')
    expect(adminRules(x)).toEqual([{ ports: [{ port: 'admin', protocol: 'TCP' }], from: [{ namespaceSelector: {} }] }])
  })

  it('refuses a ServiceMonitor nothing could scrape through, naming the fix; renders it with peers, or without the NetworkPolicy', async () => {
    expect(await r.renderError([MINIMAL], 'serviceMonitor:\n  enabled: true\n')).toMatch(NO_MONITOR_PEERS)
    const withPeers = await r.render([MINIMAL], 'serviceMonitor:\n  enabled: true\nnetworkPolicy:\n  metricsFrom:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: monitoring\n')
    expect(withPeers.get('ServiceMonitor')).toBeDefined()
    const noPolicy = await r.render([MINIMAL], 'serviceMonitor:\n  enabled: true\nnetworkPolicy:\n  enabled: false\nconfig:\n  callers:\n    apps:\n      - clientId: bot\n        audience: gw\n        hs256Secret: ${env:BOT_SECRET}\n        endpoints: ["*"]\n')
    expect(noPolicy.all('NetworkPolicy')).toEqual([])
  })

  it('values.schema.json refuses an empty peer (Kubernetes would too: a peer must select something)', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const base = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>
    const np = (v: Record<string, unknown>): Record<string, unknown> => ({ ...base, networkPolicy: { ...base.networkPolicy, ...v } })
    expect(validate(np({ metricsFrom: [{ namespaceSelector: {} }] })), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(np({ metricsFrom: [{}] }))).toBe(false)
    expect(validate(np({ ingressFrom: [{}] }))).toBe(false)
  })
})

describe('the admin port is never open to every pod by omission (seeded property)', () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
  const selector = fc.dictionary(label, label, { minKeys: 1, maxKeys: 2 }).map((matchLabels) => ({ matchLabels }))
  const peer = fc.oneof(
    selector.map((s) => ({ podSelector: s })),
    selector.map((s) => ({ namespaceSelector: s })),
    fc.tuple(selector, selector).map(([n, p]) => ({ namespaceSelector: n, podSelector: p })),
    fc.integer({ min: 0, max: 255 }).map((o) => ({ ipBlock: { cidr: `10.${o}.0.0/16` } })),
  )
  const values = fc.record({ metricsFrom: fc.array(peer, { maxLength: 3 }), serviceMonitor: fc.boolean(), networkPolicy: fc.boolean() })

  it('with the NetworkPolicy on, the admin rule exists exactly when metricsFrom has peers, and admits exactly them', async () => {
    let rendered = 0
    await fc.assert(
      fc.asyncProperty(values, async (v) => {
        const extra = stringify({ networkPolicy: { enabled: v.networkPolicy, metricsFrom: v.metricsFrom }, serviceMonitor: { enabled: v.serviceMonitor } })
        if (v.networkPolicy && v.serviceMonitor && v.metricsFrom.length === 0) return void expect(await r.renderError([MINIMAL], extra)).toMatch(NO_MONITOR_PEERS)
        if (!v.networkPolicy) return // the open-proxy refusal then needs callers; covered by helm-safety
        const x = await r.render([MINIMAL], extra)
        rendered++
        const rules = adminRules(x)
        if (v.metricsFrom.length === 0) expect(rules).toEqual([])
        else expect(rules).toEqual([{ ports: [{ port: 'admin', protocol: 'TCP' }], from: v.metricsFrom }])
        // No rule of the policy admits everyone to the admin port.
        for (const rule of rules) expect((rule.from as Manifest[] | undefined)?.length ?? 0).toBeGreaterThan(0)
      }),
      { seed: 18_005, numRuns: 1000 },
    )
    expect(rendered).toBeGreaterThan(100)
  }, 10 * 60_000)
})
