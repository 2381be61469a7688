/**
 * The `helm test` pod's Helm hook annotations are the chart's own:
 *   - it carries `helm.sh/hook-output-log-policy: hook-failed`, so Helm from 3.18 prints a failed
 *     test pod's logs (pkg/action/hooks.go, outputLogsByPolicy: read on a Pod or a Job hook, the
 *     test hooks' too; older releases ignore the annotation); its NetworkPolicy, no pod, does not;
 *   - `podAnnotations` and `helmTest.podAnnotations` (both merged into the test pod) may set no
 *     `helm.sh/hook` or `helm.sh/hook-*` key: the render fails naming the map and the key, and
 *     values.schema.json refuses the values too. Before, `helm.sh/hook-weight: "-5"` (any weight
 *     below the policy's -1) was written on the test pod, which Helm then created before its
 *     NetworkPolicy. Over generated maps (a seeded property) beside keys that only look alike.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, TEST_VALUES, valuesFile, type Manifest, type Renderer } from './chart.js'

let r: Renderer
/** The chart's defaults and minimal.yaml merged, as Helm validates them. */
let defaults: Record<string, unknown>
const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
const MINIMAL = valuesFile('minimal')

beforeAll(async () => {
  r = buildRenderer()
  defaults = await r.values([MINIMAL])
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const testHook = async (files: string[], extra?: string): Promise<Record<string, Manifest>> =>
  Object.fromEntries((await r.render(files, extra)).tests().map((d) => [d.kind, d]))

describe('the helm test pod\'s output log policy', () => {
  it.each(TEST_VALUES)('helm/tests/%s.yaml: the pod carries helm.sh/hook-output-log-policy: hook-failed, its NetworkPolicy does not', async (name) => {
    const hook = await testHook([valuesFile(name)])
    expect(hook.Pod?.metadata.annotations['helm.sh/hook-output-log-policy']).toBe('hook-failed')
    expect(hook.NetworkPolicy?.metadata.annotations).not.toHaveProperty('helm.sh/hook-output-log-policy')
  })

  it('docs/deploy.md\'s helm test section says so', () => {
    const deploy = readFileSync('docs/deploy.md', 'utf8')
    const at = deploy.indexOf('### `helm test`')
    expect(deploy.slice(at, deploy.indexOf('\n### ', at + 1))).toContain('`helm.sh/hook-output-log-policy: hook-failed`')
  })
})

/** Helm's hook annotations, as Helm reads them (helm.sh/hook and helm.sh/hook-*), one it may add, and keys that only look alike. */
const HOOK_KEYS = ['helm.sh/hook', 'helm.sh/hook-weight', 'helm.sh/hook-delete-policy', 'helm.sh/hook-output-log-policy', 'helm.sh/hook-future']
const LOOK_ALIKES = ['helm.sh/hooks', 'helm.sh/resource-policy', 'example.com/helm.sh/hook', 'helm.sh/hook.weight', 'linkerd.io/inject', 'team']
const isHookKey = (k: string): boolean => k === 'helm.sh/hook' || k.startsWith('helm.sh/hook-')

describe('Helm hook annotations in podAnnotations or helmTest.podAnnotations', () => {
  const map = fc.dictionary(fc.constantFrom(...HOOK_KEYS, ...LOOK_ALIKES, ...LOOK_ALIKES), fc.constantFrom('-5', '-2', '0', 'test', 'hook-failed', 'disabled'), { maxKeys: 3 })

  it('are refused at render, naming the map and the key, and by values.schema.json; other keys pass (seeded, 60 releases)', async () => {
    await fc.assert(
      fc.asyncProperty(map, map, fc.boolean(), async (podAnnotations, testAnnotations, enabled) => {
        const values = { podAnnotations, helmTest: { enabled, podAnnotations: testAnnotations } }
        const extra = stringify(values)
        // podAnnotations is checked first, then helmTest's (with helmTest off too), each in key order.
        const first = ([['podAnnotations', podAnnotations], ['helmTest.podAnnotations', testAnnotations]] as const)
          .flatMap(([from, m]) => Object.keys(m).sort().filter(isHookKey).map((k) => [from, k]))[0]
        const schemaOk = validate({ ...defaults, ...values, helmTest: { ...(defaults.helmTest as object), ...values.helmTest } })
        expect(schemaOk, JSON.stringify(validate.errors)).toBe(first === undefined)
        if (first !== undefined) {
          const [from, key] = first
          expect(await r.renderError([MINIMAL], extra)).toContain(`${from} sets ${key}, a Helm hook annotation`)
          return
        }
        const hook = await testHook([MINIMAL], extra)
        if (!enabled) {
          expect(hook).toEqual({})
          return
        }
        expect(hook.Pod?.metadata.annotations).toEqual({
          ...podAnnotations,
          ...testAnnotations,
          'helm.sh/hook': 'test',
          'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
          'helm.sh/hook-output-log-policy': 'hook-failed',
        })
      }),
      { seed: 0x400c, numRuns: 60 },
    )
  }, 240_000)

  it('a helm.sh/hook-weight below -1 in helmTest.podAnnotations names the key and the policy it would overtake', async () => {
    const error = await r.renderError([MINIMAL], stringify({ helmTest: { podAnnotations: { 'helm.sh/hook-weight': '-5' } } }))
    expect(error).toContain('helmTest.podAnnotations sets helm.sh/hook-weight, a Helm hook annotation, which the chart sets itself on its helm test hook')
    expect(error).toContain('a helm.sh/hook-weight below -1 would start the pod before its NetworkPolicy')
    expect(error).toContain('Remove helm.sh/hook-weight from helmTest.podAnnotations.')
  })
})
