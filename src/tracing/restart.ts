/**
 * Which tracing settings a reload cannot change: the tracer provider and exporter are built
 * once at start. A reload that changes them is refused (the gateway keeps its last good config
 * and says which key needs a restart); the sampler is read at each decision and reloads.
 */
import type { GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'

const RESTART_ONLY = ['enabled', 'serviceName', 'otlp'] as const

/** Throws ConfigError naming each restart-only `tracing` key that `next` changes relative to `start`. */
export function tracingRestartChanges(start: GatewayConfig, next: GatewayConfig): void {
  const changed = RESTART_ONLY.filter((k) => JSON.stringify(start.tracing[k]) !== JSON.stringify(next.tracing[k]))
  if (changed.length === 0) return
  throw new ConfigError(
    changed.map((k) => ({ file: next.file, line: 0, column: 0, key: `tracing.${k}`, msg: 'changed, and takes effect only after a restart; the running gateway keeps its last good config' })),
  )
}
