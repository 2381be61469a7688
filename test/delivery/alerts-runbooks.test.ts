/**
 * Every alert of the PrometheusRule links its runbook: with `prometheusRule.runbookBaseUrl` set,
 * its `runbook_url` is that base and the alert's anchor, and docs/deploy.md's alert table has
 * that anchor in the alert's own row (what to do lives there). Without a base the chart cannot
 * know where the docs are served, so no alert carries a runbook_url.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, valuesFile, type Manifest, type Renderer } from './chart.js'

let r: Renderer
const BASE = 'https://git.example.com/platform/mtls-gateway/blob/v0.1.0/docs/deploy.md'

beforeAll(() => void (r = buildRenderer()), 5 * 60_000)
afterAll(async () => r?.cleanup())

const alertsOf = async (extra?: string): Promise<Manifest[]> =>
  ((await r.render([valuesFile('full')], extra)).get('PrometheusRule').spec.groups as Manifest[]).flatMap((g) => g.rules as Manifest[])

/** The rows of docs/deploy.md's alert table, by the alert each names first. */
function alertRows(): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of readFileSync('docs/deploy.md', 'utf8').split('\n')) {
    const m = /^\| (?:<a id="[^"]*"><\/a>)?`(MtlsGateway\w+)` \|/.exec(line)
    if (m) rows.set(m[1] as string, line)
  }
  return rows
}

describe('runbook links of the alerts', () => {
  it('each alert links its own row of the alert table in docs/deploy.md, when the base URL is set', async () => {
    const alerts = await alertsOf(`prometheusRule:\n  runbookBaseUrl: ${BASE}\n`)
    const rows = alertRows()
    expect(alerts.length).toBeGreaterThan(20)
    expect([...rows.keys()].sort()).toEqual(alerts.map((a) => a.alert as string).sort())
    for (const a of alerts) {
      const anchor = (a.alert as string).toLowerCase()
      expect(a.annotations.runbook_url, a.alert as string).toBe(`${BASE}#${anchor}`)
      expect(rows.get(a.alert as string), a.alert as string).toContain(`| <a id="${anchor}"></a>\`${a.alert as string}\` |`)
    }
  })

  it('no alert carries a runbook_url without a base URL (the chart\'s default)', async () => {
    const alerts = await alertsOf(`prometheusRule:\n  runbookBaseUrl: ""\n`)
    expect(alerts.filter((a) => 'runbook_url' in a.annotations).map((a) => a.alert)).toEqual([])
  })
})
