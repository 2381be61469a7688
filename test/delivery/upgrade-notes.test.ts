/**
 * docs/deploy.md's upgrade notes for changes that can break a working release say what the
 * chart and the gateway now do, and the fix each gives works as written:
 *   - the `helm test` pod carries `podLabels`, so an Istio `sidecar.istio.io/inject: "true"`
 *     reaches it: the note's `helmTest.podLabels` override, rendered as the note writes it,
 *     gives the test pod another value while the gateway's pods keep theirs;
 *   - the `helm test` pod carries `podAnnotations`, so a Linkerd `linkerd.io/inject: enabled`
 *     reaches it: the note's `helmTest.podAnnotations` override works as written;
 *   - a literal in a profile's `additionalFields` is refused by values.schema.json (its note).
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

  it('podLabels reach the helm test pod: the note\'s helmTest.podLabels override keeps an Istio sidecar out of it', async () => {
    const text = note('Upgrading with `podLabels`')
    const override = /`(helmTest: \{[^`]+\})`/.exec(text)?.[1]
    expect(override, text).toBeDefined()
    const inject = { 'sidecar.istio.io/inject': 'true' }
    const labelsOf = (rendered: Awaited<ReturnType<Renderer['render']>>): Record<string, string> => (rendered.tests().find((d) => d.kind === 'Pod') as Manifest).metadata.labels as Record<string, string>
    const without = await r.render([valuesFile('minimal')], stringify({ podLabels: inject }))
    expect(labelsOf(without)['sidecar.istio.io/inject']).toBe('true')
    const fixed = await r.render([valuesFile('minimal')], stringify({ podLabels: inject, ...(parse(override as string) as object) }))
    expect(labelsOf(fixed)['sidecar.istio.io/inject']).toBe('false')
    expect(fixed.get('Deployment').spec.template.metadata.labels['sidecar.istio.io/inject']).toBe('true')
  }, 60_000)

  it('podAnnotations reach the helm test pod: the note\'s helmTest.podAnnotations override keeps a Linkerd proxy out of it', async () => {
    const text = note('Upgrading with `podAnnotations`')
    const override = /`(helmTest: \{podAnnotations[^`]+\})`/.exec(text)?.[1]
    expect(override, text).toBeDefined()
    const inject = { 'linkerd.io/inject': 'enabled' }
    const annotationsOf = (rendered: Awaited<ReturnType<Renderer['render']>>): Record<string, string> => (rendered.tests().find((d) => d.kind === 'Pod') as Manifest).metadata.annotations as Record<string, string>
    const without = await r.render([valuesFile('minimal')], stringify({ podAnnotations: inject }))
    expect(annotationsOf(without)['linkerd.io/inject']).toBe('enabled')
    const fixed = await r.render([valuesFile('minimal')], stringify({ podAnnotations: inject, ...(parse(override as string) as object) }))
    expect(annotationsOf(fixed)['linkerd.io/inject']).toBe('disabled')
    expect(fixed.get('Deployment').spec.template.metadata.annotations['linkerd.io/inject']).toBe('enabled')
  }, 60_000)

  it('a literal in additionalFields: the note names the refusal and the fix', () => {
    const text = note('Upgrading with a literal in a profile\'s `additionalFields`')
    expect(text).toMatch(/values\.schema\.json`\s+now refuses it/)
    expect(text).toContain('${env:…}')
  })
})
