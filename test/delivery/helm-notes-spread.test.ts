/**
 * What NOTES.txt tells an operator after install (the version the image runs, a claim no default
 * StorageClass would bind), and the operator's own topologySpreadConstraints: those counting only
 * this release's pods get matchLabelKeys [pod-template-hash] as the default does, others stay as written.
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, parseRendered, valuesFile, type Manifest, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

const run = promisify(execFile)
let r: Renderer
let n = 0
const MINIMAL = valuesFile('minimal')

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

/** The renderer's output for the minimal values plus `extra` (--notes: with NOTES.txt). */
const render = async (extra: string, flags: string[] = []): Promise<string> => {
  const file = join(r.dir, `notes-spread-${++n}.yaml`)
  writeFileSync(file, extra)
  return (await run(r.bin, [...flags, '-f', MINIMAL, '-f', file, '--namespace', 'gateway', '--name', 'egress', CHART])).stdout
}
const firstNotesLine = async (extra: string): Promise<string> => (/NOTES:\n(.*)\n/.exec(await render(extra, ['--notes'])) as RegExpExecArray)[1] as string

describe('NOTES.txt', () => {
  it('names the version the image runs: appVersion for an empty tag, the tag when set, the digest when pinned', async () => {
    expect(await firstNotesLine('')).toBe('mtls-gateway 0.1.0 is deployed as egress-mtls-gateway in namespace gateway')
    expect(await firstNotesLine('image:\n  tag: 0.1.0\n')).toBe('mtls-gateway 0.1.0 is deployed as egress-mtls-gateway in namespace gateway')
    expect(await firstNotesLine('image:\n  tag: 0.2.0-rc.1\n')).toBe('mtls-gateway 0.2.0-rc.1 (chart appVersion 0.1.0) is deployed as egress-mtls-gateway in namespace gateway')
    const digest = `sha256:${'ab'.repeat(32)}`
    expect(await firstNotesLine(`image:\n  tag: 0.2.0\n  digest: ${digest}\n`)).toBe('mtls-gateway image sha256:abababababab… (chart appVersion 0.1.0) is deployed as egress-mtls-gateway in namespace gateway')
  })

  it('warns that a claim without storageClass needs a default StorageClass, only when the chart makes that claim', async () => {
    const PENDING = 'names no StorageClass, so the cluster\'s default one'
    const notes = await render('', ['--notes'])
    expect(notes).toContain(`NOTE: the SQLite state claim egress-mtls-gateway-state ${PENDING}`)
    expect(notes).toContain('kubectl get storageclass')
    for (const extra of ['store:\n  sqlite:\n    persistence:\n      storageClass: gp3\n', 'store:\n  sqlite:\n    persistence:\n      existingClaim: mine\n', 'store:\n  sqlite:\n    persistence:\n      enabled: false\n']) {
      expect(await render(extra, ['--notes']), extra).not.toContain(PENDING)
    }
    expect(await render('', ['--notes', '-f', valuesFile('redis-replicas')])).not.toContain(PENDING)
  })
})

describe('the operator\'s topologySpreadConstraints', () => {
  const OWN = { 'app.kubernetes.io/name': 'mtls-gateway', 'app.kubernetes.io/instance': 'egress' }
  const spread = async (constraints: Manifest[], kube = 'v1.31.0'): Promise<Manifest[]> => {
    const deployment = parseRendered(await render(stringify({ topologySpreadConstraints: constraints }), ['--kube-version', kube])).find((d) => d.kind === 'Deployment') as Manifest
    expect(validateManifest(deployment)).toEqual([])
    return deployment.spec.template.spec.topologySpreadConstraints as Manifest[]
  }

  it('adds matchLabelKeys [pod-template-hash] exactly to constraints that count only this release\'s pods and name none (seeded property)', async () => {
    const labels = fc.dictionary(fc.constantFrom(...Object.keys(OWN), 'app.kubernetes.io/part-of', 'pod-template-hash', 'tier'), fc.constantFrom('mtls-gateway', 'egress', 'other'), { maxKeys: 4 })
    const extra = fc.dictionary(fc.constantFrom('app.kubernetes.io/part-of', 'pod-template-hash', 'tier'), fc.constantFrom('mtls-gateway', 'x'), { maxKeys: 1 })
    const constraint = fc.record(
      {
        maxSkew: fc.integer({ min: 1, max: 3 }),
        topologyKey: fc.constantFrom('kubernetes.io/hostname', 'topology.kubernetes.io/zone'),
        whenUnsatisfiable: fc.constantFrom('DoNotSchedule', 'ScheduleAnyway'),
        // Any labels, or this release's two with others beside them (pod-template-hash among them at times).
        labelSelector: fc.oneof(labels.map((l) => ({ matchLabels: { ...l } })), extra.map((l) => ({ matchLabels: { ...OWN, ...l } }))),
        matchLabelKeys: fc.constantFrom([], ['pod-template-hash'], ['tier']),
      },
      { requiredKeys: ['maxSkew', 'topologyKey', 'whenUnsatisfiable', 'labelSelector'] },
    )
    const counts = { added: 0, kept: 0 }
    await fc.assert(
      fc.asyncProperty(fc.array(constraint, { minLength: 1, maxLength: 3 }), fc.constantFrom('v1.26.9', 'v1.27.3', 'v1.31.0'), async (given, kube) => {
        const got = await spread(given, kube)
        expect(got.length).toBe(given.length)
        given.forEach((c, i) => {
          const m = c.labelSelector.matchLabels as Record<string, string>
          const ownPods = Object.entries(OWN).every(([k, v]) => m[k] === v)
          const add = kube !== 'v1.26.9' && ownPods && !('pod-template-hash' in m) && !('matchLabelKeys' in c)
          if (add) counts.added++
          else counts.kept++
          expect(got[i]).toEqual(add ? { ...c, matchLabelKeys: ['pod-template-hash'] } : c)
        })
      }),
      { seed: 35_021, numRuns: 60 },
    )
    expect(counts.added).toBeGreaterThan(5)
    expect(counts.kept).toBeGreaterThan(5)
  }, 5 * 60_000)
})
