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

/** `promtool check config` on a Prometheus server config (e.g. the scrape config a ServiceMonitor becomes). */
export const checkConfig = (config: Record<string, unknown>): PromtoolRun => promtool(['check', 'config', 'prometheus.yml'], { 'prometheus.yml': config })

// Timestamp gauges hold wall-clock instants: promtool's clock starts at 0, so they move with the scrapes.
const isTimestamp = (name: string): boolean => name.endsWith('_timestamp_seconds')
const seriesKey = (name: string, labels: Record<string, string>): string =>
  `${name}{${Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`

/**
 * The scrapes as promtool input series: the earlier at 0, the later one scrape interval after. A
 * series the later scrape lacks gets a stale marker, as Prometheus writes for a series gone from its
 * target; one new in it has no earlier sample. `steps` more scrapes hold the later one's state:
 * a counter (`_total`) rising by the same step each scrape, any other series unchanged.
 */
function inputSeries([earlier, later]: readonly [Scrape, Scrape], scrapeSeconds: number, steps: number): { series: string; values: string }[] {
  const shift = scrapeSeconds - later.at
  const values = new Map<string, { name: string; at: [number | undefined, number | undefined] }>()
  for (const [i, scrape] of [earlier, later].entries()) {
    for (const s of scrape.samples) {
      const key = seriesKey(s.name, s.labels)
      const series = values.get(key) ?? { name: s.name, at: [undefined, undefined] }
      if (series.at[i] !== undefined) throw new Error(`${key} twice in one scrape`)
      series.at[i] = isTimestamp(s.name) ? s.value + shift : s.value
      values.set(key, series)
    }
  }
  return [...values].map(([series, { name, at: [a, b] }]) => {
    const step = name.endsWith('_total') && a !== undefined && b !== undefined ? b - a : 0
    const rest = Array.from({ length: steps }, (_, k) => (b === undefined ? '_' : String(b + (k + 1) * step)))
    return { series, values: [a ?? '_', b ?? (a === undefined ? '_' : 'stale'), ...rest].join(' ') }
  })
}

const withoutName = ({ __name__: _, ...rest }: Record<string, string>): Record<string, string> => rest
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600 }
const seconds = (duration: unknown): number => {
  const m = /^(\d+)([smh])$/.exec(String(duration ?? '0s'))
  if (!m) throw new Error(`a duration the tests do not read: ${String(duration)}`)
  return Number(m[1]) * (UNIT[m[2] as string] as number)
}

/**
 * `promtool test rules`, one test group per scenario, asserting for every rule the alerts the
 * evaluator finds: each of its series (without the metric name) with the rule's labels.
 * Annotations are left out (templates, which check rules parses). Without `heldSeconds`, so is
 * `for` (the evaluator judges the expression; `for` is the pending clock) and the rules are
 * evaluated at the later scrape. With it, the later scrape's state holds that long, `for` stays,
 * and at its end a rule whose `for` fits in it fires while a longer one is still pending.
 */
export function testRules({ groups, scrapeSeconds }: Monitoring, scenarios: readonly Scenario[], heldSeconds = 0): PromtoolRun {
  if (heldSeconds % scrapeSeconds !== 0) throw new Error(`hold ${heldSeconds} s, not a number of scrapes`)
  const kept = (r: Manifest): Manifest => ({ alert: r.alert, expr: r.expr, labels: r.labels, ...(heldSeconds > 0 ? { for: r.for } : {}) })
  const rules = groups.flatMap((g) => g.rules)
  // An alert is active from the first scrape its expression holds at (the earlier or the later).
  const fires = (r: Manifest): boolean => {
    const wait = heldSeconds > 0 ? seconds(r.for) : 0
    if (wait > heldSeconds && wait <= heldSeconds + scrapeSeconds) throw new Error(`${String(r.alert)}: for ${String(r.for)} may or may not have passed after a hold of ${heldSeconds} s`)
    return wait <= heldSeconds
  }
  const evalTime = `${scrapeSeconds + heldSeconds}s`
  const tests = scenarios.map((s) => ({
    name: s.name,
    interval: `${scrapeSeconds}s`,
    input_series: inputSeries(s.scrapes, scrapeSeconds, heldSeconds / scrapeSeconds),
    alert_rule_test: rules.map((r) => ({
      eval_time: evalTime,
      alertname: r.alert,
      exp_alerts: fires(r) ? firing(r.expr as string, s.scrapes).map((x) => ({ exp_labels: { ...withoutName(x.labels), ...r.labels } })) : [],
    })),
  }))
  const rulesFile = { groups: groups.map((g) => ({ name: g.name, rules: g.rules.map(kept) })) }
  return promtool(['test', 'rules', 'tests.yml'], { 'rules.yml': rulesFile, 'tests.yml': { rule_files: ['rules.yml'], evaluation_interval: `${scrapeSeconds}s`, tests } })
}

/** promtool test rules passes: Prometheus fires, label for label, what the evaluator finds on each scenario. */
export function expectPrometheusAgrees(m: Monitoring, scenarios: readonly Scenario[]): void {
  const run = testRules(m, scenarios)
  expect(run.status, run.output).toBe(0)
}
