/**
 * docs/deploy.md's upgrade notes for changes that can break a working release say what the
 * chart and the gateway now do, and the fix each gives works as written:
 *   - the `helm test` pod carries `podLabels`, so an Istio `sidecar.istio.io/inject: "true"`
 *     reaches it: the note's `helmTest.podLabels` override, rendered as the note writes it,
 *     gives the test pod another value while the gateway's pods keep theirs;
 *   - the `helm test` pod carries `podAnnotations`, so a Linkerd `linkerd.io/inject: enabled`
 *     reaches it: the note's `helmTest.podAnnotations` override works as written;
 *   - a literal in a profile's `additionalFields` is refused by values.schema.json (its note);
 *   - `checksum/config` in `podAnnotations` is refused at render, naming the key (its note).
 * Before, the first had no note: an upgrade was the first to tell.
 */
import { parse, stringify } from 'yaml'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, valuesFile, type Manifest, type Renderer } from './chart.js'

const DEPLOY = readFileSync('docs/deploy.md', 'utf8')

/** The paragraph of docs/deploy.md that begins with `start`. */
function note(start: string): string {
  const at = DEPLOY.indexOf(`\n${start}`)
  expect(at, `docs/deploy.md has a note beginning "${start}"`).toBeGreaterThanOrEqual(0)
  return DEPLOY.slice(at + 1, DEPLOY.indexOf('\n\n', at + 1))
}

describe('docs/deploy.md upgrade notes', () => {
  let r: Renderer
  beforeAll(() => {
    r = buildRenderer()
  }, 5 * 60_000)
  afterAll(() => r?.cleanup())

  /**
   * The note beginning "Upgrading with `<field>`" gives a `helmTest: {<field>: …}` override that, rendered as written, turns
   * `key` from `injected` to `kept` on the test pod's metadata (`where`) while the gateway's pods keep `injected`.
   */
  async function overrideHolds(field: 'podLabels' | 'podAnnotations', where: 'labels' | 'annotations', key: string, injected: string, kept: string): Promise<void> {
    const text = note(`Upgrading with \`${field}\``)
    const override = new RegExp(`\`(helmTest: \\{${field}[^\`]+\\})\``).exec(text)?.[1]
    expect(override, text).toBeDefined()
    const inject = { [field]: { [key]: injected } }
    const testPod = (rendered: Awaited<ReturnType<Renderer['render']>>): Record<string, string> => (rendered.tests().find((d) => d.kind === 'Pod') as Manifest).metadata[where] as Record<string, string>
    expect(testPod(await r.render([valuesFile('minimal')], stringify(inject)))[key]).toBe(injected)
    const fixed = await r.render([valuesFile('minimal')], stringify({ ...inject, ...(parse(override as string) as object) }))
    expect(testPod(fixed)[key]).toBe(kept)
    expect(fixed.get('Deployment').spec.template.metadata[where][key]).toBe(injected)
  }

  it('podLabels reach the helm test pod: the note\'s helmTest.podLabels override keeps an Istio sidecar out of it', async () => {
    await overrideHolds('podLabels', 'labels', 'sidecar.istio.io/inject', 'true', 'false')
  })

  it('podAnnotations reach the helm test pod: the note\'s helmTest.podAnnotations override keeps a Linkerd proxy out of it', async () => {
    await overrideHolds('podAnnotations', 'annotations', 'linkerd.io/inject', 'enabled', 'disabled')
  })

  it('checksum/config in podAnnotations: the note names the refusal at render, as the chart gives it', async () => {
    const text = note('Upgrading with `checksum/config` or `checksum/redis-secret` in `podAnnotations`')
    expect(text).toMatch(/refuses it at render,\s+naming the key/)
    expect(text).toContain('Remove it from `podAnnotations`')
    expect(await r.renderError([valuesFile('minimal')], stringify({ podAnnotations: { 'checksum/config': 'pinned' } }))).toContain('Remove checksum/config from podAnnotations')
  })

  it('one process and a grace period within 3 s of the drain: the note names the refusal the chart gives', async () => {
    const text = note('Upgrading with one process (`gateway.workers` 1)')
    expect(text).toMatch(/within 3 s of\s+the drain grace plus the preStop sleep: the chart now refuses it/)
    expect(await r.renderError([valuesFile('minimal')], 'terminationGracePeriodSeconds: 43\n')).toContain('+ 3 (43): after the grace the gateway takes about 2 s')
  })

  it('a literal in additionalFields: the note names the refusal and the fix', () => {
    const text = note('Upgrading with a literal in a profile\'s `additionalFields`')
    expect(text).toMatch(/values\.schema\.json`\s+now refuses it/)
    expect(text).toContain('${env:…}')
  })
})
