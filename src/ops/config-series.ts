/**
 * The series that name a config object: an endpoint's (label `endpoint`) or an OAuth profile's
 * (label `profile`). Once the config in force no longer has the object (a reload removed it)
 * its series go, counters and histograms included, as a fresh start with that file would not
 * show them: dashboards and the certificate-expiry alerts would otherwise go on showing and
 * paging for an endpoint that no longer exists. An object added back starts from nothing, which
 * Prometheus reads as a new series (or a counter reset). The reserved endpoint labels (`_none`,
 * `_gateway`, and `""` on the listeners' certificates) name no object: config names start with
 * a lowercase letter or a digit.
 */
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../config/index.js'
import type { WorkerMetrics } from './worker-link.js'

/** The names of one config's endpoints and OAuth profiles. */
export interface ConfigNames {
  readonly endpoints: ReadonlySet<string>
  readonly profiles: ReadonlySet<string>
}

/** The config objects whose names label series. */
export type NamedObjects = Pick<GatewayConfig, 'endpoints' | 'profiles'>

// Once per config: a scrape asks in every family it reads.
const namesByConfig = new WeakMap<NamedObjects, ConfigNames>()

/** The endpoint and profile names of `config`. */
export function configNamesOf(config: NamedObjects): ConfigNames {
  let names = namesByConfig.get(config)
  if (!names) namesByConfig.set(config, (names = { endpoints: new Set(config.endpoints.map((e) => e.name)), profiles: new Set(config.profiles.map((p) => p.name)) }))
  return names
}

const OBJECT_NAME = /^[a-z0-9]/
const absent = (value: unknown, present: ReadonlySet<string>): boolean => typeof value === 'string' && OBJECT_NAME.test(value) && !present.has(value)

/** Whether `labels` name an endpoint or a profile that `names` lacks. */
export function namesRemovedObject(labels: Readonly<Partial<Record<string, string | number>>>, names: ConfigNames): boolean {
  return absent(labels.endpoint, names.endpoints) || absent(labels.profile, names.profiles)
}

/** What pruning reads of a prom-client metric: its series by label hash (not in prom-client's typings; pending-histograms.ts reads the same). */
interface SeriesByHash {
  hashMap: Record<string, { labels: Readonly<Partial<Record<string, string | number>>> }>
}

/** Removes from a prom-client metric the series naming an object the config in force lacks; call last in a family's collect. */
export type DropRemoved = (metric: object) => void

/** A DropRemoved against the names `current` gives at each read (undefined before the first config: nothing removed). */
export function createSeriesPruner(current: () => ConfigNames | undefined): DropRemoved {
  return (metric) => {
    const names = current()
    if (!names) return
    const series = (metric as SeriesByHash).hashMap
    for (const [hash, s] of Object.entries(series)) if (namesRemovedObject(s.labels, names)) delete series[hash]
  }
}

/** The labels that carry a config object's name. */
const OBJECT_LABELS: ReadonlySet<string> = new Set(['endpoint', 'profile'])

/**
 * Runs now the read (collect) of every family of `registry` labelled by a config object's name:
 * each drops the series the config in force no longer names at once, counts not read yet
 * included, not at the next scrape (a reload that adds the object back before it starts it from
 * nothing). Those reads take the snapshot in force and nothing else: no I/O.
 */
export function dropRemovedSeries(registry: Registry): void {
  for (const m of registry.getMetricsAsArray()) {
    if ((m as { labelNames?: readonly string[] }).labelNames?.some((l) => OBJECT_LABELS.has(l))) void m.collect?.call(m)
  }
}

/** `metrics` (one process's, as the `--workers` primary aggregates them) without the values naming an object `names` lacks. */
export function withoutRemovedObjects(metrics: WorkerMetrics, names: ConfigNames): WorkerMetrics {
  return metrics.map((m) => {
    const kept = m.values.filter((v) => !namesRemovedObject(v.labels, names))
    return kept.length === m.values.length ? m : Object.assign({}, m, { values: kept })
  })
}
