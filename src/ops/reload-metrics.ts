/** The reload metrics, shared by the process that reloads and a `--workers` primary that judges its workers' reloads. */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'

/**
 * `config_reloads_total{result}` and the config-in-force time, in a process that reloads (a
 * single process) or judges the instance's reloads (a `--workers` primary, once every worker
 * answered; its workers count none of the reloads it relays, so the instance view is the max).
 */
export function createReloadMetrics(registry: Registry): Pick<Metrics, 'configReload' | 'configLoaded'> {
  const registers = [registry]
  const reloads = new Counter({ name: 'mtls_gateway_config_reloads_total', help: 'Config reloads, by result.', labelNames: ['result'] as const, aggregator: 'max', registers })
  // Each worker sets it when it builds a config; the primary when the instance accepts one: the earliest is the instance's.
  const lastGood = new Gauge({ name: 'mtls_gateway_config_last_reload_success_timestamp_seconds', help: 'Unix time the config in force was loaded.', aggregator: 'min', registers })
  reloads.labels('success').inc(0)
  reloads.labels('failure').inc(0)
  return {
    configReload: (result) => reloads.labels(result).inc(),
    configLoaded: (at = new Date()) => lastGood.set(at.getTime() / 1000),
  }
}
