/**
 * Hot reload: load and compile the new config completely (every bundle included) before it
 * replaces the old one with a single reference swap. Requests pinned to the old snapshot
 * finish on it; the old snapshot's pools close once they are done. A bad reload keeps the
 * last good config, says why, and counts it — including a change to a setting only a
 * restart applies (listen, admin, the store's location once it is open), which `compile` refuses.
 * One that a drain overtakes (asked before it, run after it began) is abandoned: one line, not counted.
 */
import type { Logger } from 'pino'
import { resolve } from 'node:path'
import { loadConfig, parseConfig, withConfigFiles, type ConfigSource, type GatewayConfig } from '../config/index.js'
import { ConfigError, formatProblem } from '../errors.js'
import type { Gateway } from '../gateway/index.js'
import type { GatewayRef } from '../proxy/listener.js'
import type { Metrics } from './metrics.js'

/** The outcome of one reload; `abandoned`: a drain began before it was put in force, so nothing changed and nothing was judged. */
export type ReloadResult = { ok: true; endpoints: number } | { ok: false; problems: string[]; abandoned?: true }

/** The one line of a reload that a drain overtook (`draining: no reload` is for one asked while draining). */
export const RELOAD_ABANDONED = 'draining: reload abandoned'

/** A reload a drain overtook: its result, once said (`log`: this process speaks for the instance, with the trigger). */
export function abandonReload(trigger: string, log: Logger | undefined): ReloadResult & { ok: false } {
  log?.info({ trigger }, RELOAD_ABANDONED)
  return { ok: false, problems: [`${RELOAD_ABANDONED} (the instance is shutting down; start the next one with the new config)`], abandoned: true }
}

/** The running gateway a reloader swaps snapshots of. */
export interface ReloaderOptions {
  configFile: string
  ref: GatewayRef
  /** Config → snapshot, exactly as at start (hooks, lookup, the runtime's restart-only check). */
  compile(config: GatewayConfig): Gateway
  /** Defaults to loadConfig. */
  load?(file: string): GatewayConfig
  /** The new snapshot is in force (gauges, redaction, watched files). */
  onSwap?(gateway: Gateway): void
  /** A reload was refused: the files the refused config references (a missing one may yet arrive). */
  onRefused?(files: readonly string[], hide: readonly string[]): void
  /** Closes the old snapshot once its in-flight requests are done. */
  retire(old: Gateway): void
  /** The process drains: a reload not yet in force is abandoned, never adopted. */
  draining(): boolean
  log: Logger
  metrics: Metrics
}

/** Reloads the config of one running gateway. */
export interface Reloader {
  /**
   * Reloads now; concurrent calls share the next run, so the newest files always win. With
   * `source` (a `--workers` primary's relayed reload) it builds from exactly those bytes, never
   * the disk, keeps them pinned while the new config is in force, and counts nothing: the
   * primary counts the instance's reload once every worker answered.
   */
  reload(trigger: string, source?: ConfigSource): Promise<ReloadResult>
}

/** Creates the reloader for one running gateway. */
export function createReloader(o: ReloaderOptions): Reloader {
  const load = o.load ?? ((file: string) => loadConfig(file))
  let running: Promise<ReloadResult> | undefined
  let queued: Promise<ReloadResult> | undefined
  let latest: { trigger: string; source: ConfigSource | undefined } | undefined

  const run = (): Promise<ReloadResult> => {
    // setImmediate: let the trigger's caller (a signal or watch event) return first.
    running = new Promise<ReloadResult>((done) =>
      setImmediate(() => {
        const { trigger, source } = latest as { trigger: string; source: ConfigSource | undefined }
        done(reloadOnce(o, load, trigger, source))
      }),
    ).finally(() => {
      running = undefined
    })
    return running
  }

  return {
    reload(trigger, source) {
      // The newest call's trigger and source: a relayed source is the primary's latest.
      latest = { trigger, source }
      if (!running) return run()
      // A change arrived mid-reload: one more run after this one sees it; later callers join it.
      queued ??= running.then(() => {
        queued = undefined
        return run()
      })
      return queued
    },
  }
}

/** One reload: build the new snapshot completely, then swap it in, or keep the old one and say why. */
function reloadOnce(o: ReloaderOptions, load: (file: string) => GatewayConfig, trigger: string, source: ConfigSource | undefined): ReloadResult {
  // Asked before a drain began (its run waits a turn, or behind another): a draining process adopts no
  // config. A relayed one is said by the primary, whose reload it is.
  if (o.draining()) return abandonReload(trigger, source ? undefined : o.log)
  let next: Gateway
  let config: GatewayConfig | undefined
  const build = (): Gateway => o.compile((config = source ? parseConfig(resolve(o.configFile), source.text) : load(o.configFile)))
  try {
    next = source ? withConfigFiles(source.files, build, true) : build()
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems.map(formatProblem) : [e instanceof Error ? e.message : String(e)]
    if (!source) o.metrics.configReload('failure')
    o.log.error({ trigger, problems }, 'config reload failed; keeping the last good config')
    o.onRefused?.(config?.files ?? (e instanceof ConfigError ? e.files : []), config?.secrets ?? [])
    return { ok: false, problems }
  }
  const old = o.ref.current
  o.ref.current = next
  if (!source) o.metrics.configReload('success')
  o.metrics.configLoaded()
  o.onSwap?.(next)
  o.retire(old)
  // How many upstream pools it kept (nothing about them changed) and built: the handshakes it costs.
  o.log.info({ trigger, endpoints: next.endpoints.size, upstreamPools: next.pools }, 'config reloaded')
  return { ok: true, endpoints: next.endpoints.size }
}
