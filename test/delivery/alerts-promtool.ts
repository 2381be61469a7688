/**
 * The chart's alert rules run by the real Prometheus engine: promtool (Debian's prometheus package,
 * installed by scripts/install-peers.sh). `promtool check rules` reads the rendered groups as a
 * Prometheus server loads them; `promtool test rules` evaluates them on two scrapes turned into
 * input series and expects, label for label, the alerts the test evaluator (test/support/promql.ts)
 * finds on the same scrapes, so its verdicts are Prometheus's.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { stringify } from 'yaml'
import { firing, type Scrape } from '../support/promql.js'
import type { Manifest } from './chart.js'

/** A PrometheusRule group as rendered: its name and rules (alert, expr, for, labels, annotations). */
export interface RuleGroup {
  name: string
  rules: Manifest[]
}

/** The rendered rule groups and the ServiceMonitor's scrape interval in seconds. */
export interface Monitoring {
  groups: RuleGroup[]
  scrapeSeconds: number
}

/** Two scrapes the evaluator judged, named for promtool's report. */
export interface Scenario {
  name: string
  scrapes: readonly [Scrape, Scrape]
}

export interface PromtoolRun {
  status: number | null
  output: string
}

/** Runs promtool with `files` written to a temp dir (its working directory). */
function promtool(args: string[], files: Record<string, unknown>): PromtoolRun {
  const dir = mkdtempSync(join(tmpdir(), 'promtool-'))
  try {
    for (const [name, doc] of Object.entries(files)) writeFileSync(join(dir, name), stringify(doc))
    const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' })
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error('promtool is not installed: run "bash scripts/install-peers.sh" (Debian package prometheus)')
    if (r.error) throw r.error
    return { status: r.status, output: `${r.stdout}${r.stderr}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `promtool check rules` on the groups written as a rules file. */
export const checkRules = (groups: readonly RuleGroup[]): PromtoolRun => promtool(['check', 'rules', 'rules.yml'], { 'rules.yml': { groups } })

// Timestamp gauges hold wall-clock instants: promtool's clock starts at 0, so they move with the scrapes.
const isTimestamp = (name: string): boolean => name.endsWith('_timestamp_seconds')
const seriesKey = (name: string, labels: Record<string, string>): string =>
  `${name}{${Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`

/**
 * The scrapes as promtool input series: the earlier at 0, the later one scrape interval after (when
 * the rules are evaluated). A series the later scrape lacks gets a stale marker, as Prometheus
 * writes for a series gone from its target; one new in it has no earlier sample.
 */
function inputSeries([earlier, later]: readonly [Scrape, Scrape], scrapeSeconds: number): { series: string; values: string }[] {
  const shift = scrapeSeconds - later.at
  const values = new Map<string, [string, string]>()
  for (const [i, scrape] of [earlier, later].entries()) {
    for (const s of scrape.samples) {
      const key = seriesKey(s.name, s.labels)
      if (values.get(key)?.[i] !== undefined && values.get(key)?.[i] !== '_' && values.get(key)?.[i] !== 'stale') throw new Error(`${key} twice in one scrape`)
      const pair = values.get(key) ?? ['_', i === 0 ? 'stale' : '_']
      pair[i] = String(isTimestamp(s.name) ? s.value + shift : s.value)
      values.set(key, pair)
    }
  }
  return [...values].map(([series, [a, b]]) => ({ series, values: `${a} ${b}` }))
}

const withoutName = ({ __name__: _, ...rest }: Record<string, string>): Record<string, string> => rest

/**
 * `promtool test rules`, one test group per scenario, asserting for every rule the alerts the
 * evaluator finds: each of its series (without the metric name) with the rule's labels. `for` is left
 * out (the evaluator judges the expression; `for` is the pending clock) and so are annotations
 * (templates, which check rules parses).
 */
export function testRules({ groups, scrapeSeconds }: Monitoring, scenarios: readonly Scenario[]): PromtoolRun {
  const bare = groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => ({ alert: r.alert, expr: r.expr, labels: r.labels })) }))
  const rules = groups.flatMap((g) => g.rules)
  const evalTime = `${scrapeSeconds}s`
  const tests = scenarios.map((s) => ({
    name: s.name,
    interval: evalTime,
    input_series: inputSeries(s.scrapes, scrapeSeconds),
    alert_rule_test: rules.map((r) => ({
      eval_time: evalTime,
      alertname: r.alert,
      exp_alerts: firing(r.expr as string, s.scrapes).map((x) => ({ exp_labels: { ...withoutName(x.labels), ...r.labels } })),
    })),
  }))
  return promtool(['test', 'rules', 'tests.yml'], { 'rules.yml': { groups: bare }, 'tests.yml': { rule_files: ['rules.yml'], evaluation_interval: evalTime, tests } })
}

/** promtool test rules passes: Prometheus fires, label for label, what the evaluator finds on each scenario. */
export function expectPrometheusAgrees(m: Monitoring, scenarios: readonly Scenario[]): void {
  const run = testRules(m, scenarios)
  expect(run.status, run.output).toBe(0)
}
