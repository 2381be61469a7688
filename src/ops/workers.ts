/**
 * `serve --workers N`: the primary of a node:cluster. Workers serve the one port (the
 * primary hands out connections round-robin); the primary owns the admin listener
 * (aggregated /metrics), file watching and signals, relays reload and drain to every worker,
 * and replaces a worker that crashes.
 */
import cluster, { type Worker } from 'node:cluster'
import { startProblems } from '../gateway/index.js'
import { renewServerTls } from '../tls/index.js'
import { loadConfigText, withConfigFiles, type GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import { startAdmin, type AdminRoutes, type AdminServer, type ReadinessProbe } from './admin.js'
import { mergeHandshakes, type AdminFacts, type HandshakeFacts } from './admin-facts.js'
import { instanceReadiness } from './instance-readiness.js'
import { createReloadCoordinator, type ReloadCoordinator } from './reload-coordinator.js'
import { configSecretValues } from './config-secrets.js'
import { logConfigWarnings } from './config-warnings.js'
import { createDegradationLog, type Degradation, type DegradationLog } from './degradation-log.js'
import type { GatewayLog } from './log.js'
import { aggregateInstanceMetrics, createPrimaryRegistry } from './instance-metrics.js'
import { primaryConnectionEvents } from './primary-connection-events.js'
import { createRetainedMetrics } from './retained-metrics.js'
import { deferSignal, installSignals, reloadUnlessDraining } from './signals.js'
import { watchFiles } from './watch.js'
import { startWindowMs, watchStartWindows } from './start-window.js'
import { WorkerPool } from './worker-pool.js'
import { announceListeners, type StartLine } from '../proxy/bind-listener.js'
import { watchWorkers } from './worker-watchdog.js'
import { createAsker, isMessage, type ConfigTexts, type PrimaryMessage, type WorkerMessage } from './worker-link.js'
import { WORKER_ANSWER_WAIT_MS } from './answer-budget.js'

/** The cluster primary's settings (the CLI passes them through). */
export interface PrimaryOptions {
  configFile: string
  workers: number
  log: GatewayLog
  admin?: { host?: string; port?: number }
  probes?: readonly ReadinessProbe[]
  debounceMs?: number
  /** `--reload-timeout`: how long a reload waits for each worker's answer, and for a starting worker to serve (default 30 s). */
  reloadTimeoutMs?: number
  /** Routes mounted on the admin listener (the console), seeing the whole instance and the configs the primary accepts. */
  adminRoutes?: PrimaryRoutesFactory
  /** Prints a ready line: {msg: "listening", url, on} and {msg: "admin listening", url, on}. */
  announce(line: StartLine): void
  exit?(code: number): void
}

/** The configs the primary accepts (what every worker runs), for the routes it hosts. */
export interface PrimaryConfigs {
  /** The config in force: the start's, then each accepted reload's. */
  current(): GatewayConfig
  /** Calls `fn` with each config accepted from now on, in order (so a store opens when the workers' does). */
  onAccepted(fn: (config: GatewayConfig) => void): void
}

/** Builds the primary's admin routes (the console) once the facts exist; a promise while their modules load. */
export type PrimaryRoutesFactory = (facts: AdminFacts, configs: PrimaryConfigs) => AdminRoutes | Promise<AdminRoutes>

/** `--reload-timeout`'s default. */
const DEFAULT_RELOAD_TIMEOUT_MS = 30_000

/** Validates the config, forks the workers, waits until all listen, then serves admin. */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  // A SIGHUP while the workers start (a config reloader) reloads once they serve, instead of ending the primary.
  const onHup = deferSignal('SIGHUP')
  const start = loadConfigText(o.configFile)
  const startConfig = start.config
  // Judged on the bytes the workers get (they build from them, never from the disk).
  const { problems, listenerTls } = withConfigFiles(start.files, () => startProblems(startConfig))
  // Workers would fail the same way, and be restarted for ever: refuse here, once.
  if (problems.length > 0) throw new ConfigError(problems)
  vouchFor(o.log, startConfig)
  const logger = o.log.logger
  const registry = createPrimaryRegistry()
  // The admin listener is the primary's: its limit events count here, as in a single process.
  const { events: adminEvents, conditions, onAuthFailure, consoleRefusal, recordResealed, flushLines } = primaryConnectionEvents(registry, o.log, () => reloads.current().logging.callerFaults)
  let consoleRoutes: AdminRoutes | undefined
  // Every exit (a cut one too, which closes nothing) writes the pending summaries of the admin listener's and the console's capped lines.
  const exit = (code: number): void => (flushLines(), consoleRoutes?.close?.(), o.exit ? o.exit(code) : void o.log.end().finally(() => process.exit(code)))
  const ask = createAsker(cluster)
  // What exited workers counted stays in the instance's counters (retained-metrics.ts).
  const retained = createRetainedMetrics<Worker>()
  const reloadTimeoutMs = o.reloadTimeoutMs ?? DEFAULT_RELOAD_TIMEOUT_MS
  const starts = watchStartWindows(startWindowMs(reloadTimeoutMs), (w, why) => pool.killStarting(w, undefined, why), () => pool.startKillOutcome)
  const pool = new WorkerPool({
    size: o.workers,
    registry,
    logger,
    exit,
    onExit: (w) => retained.depart(w),
    graceMs: () => reloads.current().drain.graceMs,
    close: async () => {
      watchdog.stop()
      watcher.close()
      await admin?.close()
    },
  })
  const { live, serving } = pool
  const connected = (): Worker[] => [...live].filter((w) => w.isConnected())
  const servingNow = (): Worker[] => connected().filter((w) => serving.has(w))
  // The configs the console (it opens the store when the workers do) and the instance's metrics follow.
  const accepted: ((config: GatewayConfig) => void)[] = []
  const reloads = createReloadCoordinator({
    configFile: o.configFile, start, log: logger, answerTimeoutMs: reloadTimeoutMs, registry, ask, drainWorker: (w, reason) => pool.drainWorker(w, reason), killStarting: (w, reason, why) => pool.killStarting(w, reason, why),
    serving: servingNow, draining: () => pool.draining,
    onAccepted: (next, tls) => {
      vouchFor(o.log, next)
      for (const fn of accepted) fn(next)
      watcher.setFiles(next.files, next.secrets)
      // The admin listener is the primary's: it takes the new certificate as the workers take theirs.
      if (admin) renewServerTls(admin.server, tls.admin)
    },
    onRefused: (files, hide) => watcher.addFiles(files, hide),
  })

  followWorkers((w) => starts.hold(w, reloads.texts(w)), followDegradations(createDegradationLog(logger), reloads))
  const binding = await pool.start()
  const { aggregate, metrics } = aggregateInstanceMetrics({ registry, ask, live, retained, configs: { current: reloads.current, onAccepted: (fn) => void accepted.push(fn) }, openMetrics: startConfig.tracing.enabled, askTimeoutMs: WORKER_ANSWER_WAIT_MS })
  const readiness = instanceReadiness({
    ask, askTimeoutMs: WORKER_ANSWER_WAIT_MS, serving: servingNow,
    leaving: reloads.leaving, conditions, draining: () => pool.draining, probes: o.probes ?? [],
  })
  const facts: AdminFacts = {
    log: logger,
    workers: o.workers, consoleRefusal, recordResealed,
    gatewayUrl: () => binding.url,
    loadedAt: reloads.loadedAt,
    lastReload: reloads.lastReload,
    draining: () => pool.draining,
    reload: reloads.reload,
    readiness,
    metrics: async () => (await aggregate()).getMetricsAsJSON(),
    handshakes: async () => mergeHandshakes((await ask(connected(), 'handshakes', WORKER_ANSWER_WAIT_MS)).flatMap((a) => (a.value === undefined ? [] : [a.value as HandshakeFacts]))),
  }
  let admin: AdminServer | undefined
  const cfg = startConfig.admin
  if (cfg.enabled) {
    consoleRoutes = await o.adminRoutes?.(facts, { current: reloads.current, onAccepted: (fn) => void accepted.push(fn) })
    admin = await startAdmin({ host: o.admin?.host ?? cfg.host, port: o.admin?.port ?? cfg.port, metrics, readiness, limits: cfg, allowedHosts: () => reloads.current().admin.allowedHosts, log: logger, events: adminEvents, onAuthFailure, ...(listenerTls.admin ? { tls: listenerTls.admin } : {}), ...(consoleRoutes ? { extra: consoleRoutes } : {}) })
  }
  const reload = reloadUnlessDraining(() => pool.draining, logger, (trigger) => reloads.reload(trigger))
  const watcher = watchFiles({
    files: startConfig.files, hide: startConfig.secrets, busy: () => reloads.settled(),
    ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}),
    onChange: () => reload('file change'),
    onError: (dir, code) => logger.warn({ dir, err: code }, 'cannot watch directory; SIGHUP still reloads'),
  })
  // A worker silent for about half a minute is killed and replaced (worker-watchdog.ts); not while draining.
  const watchdog = watchWorkers(ask, () => (pool.draining ? [] : servingNow()), logger)
  primarySignals(onHup, pool, () => reload('SIGHUP'))
  announceListeners(logger, o.announce, binding, admin)
}

/** SIGHUP reloads (`reload` does nothing while the instance drains); SIGTERM/SIGINT drain, one held since serve began too. */
function primarySignals(onHup: (handler: () => void) => void, pool: WorkerPool, reload: () => void): void {
  onHup(reload)
  installSignals({ SIGTERM: () => pool.drain('SIGTERM'), SIGINT: () => pool.drain('SIGINT') })
}

/** The instance runs `config` (the start's, or an accepted reload's): its secrets are hidden from every line, and its risks said once for all workers. */
function vouchFor(log: GatewayLog, config: GatewayConfig): void {
  log.addSecretValues(configSecretValues(config))
  logConfigWarnings(log.logger, config)
}

/** Hands a starting worker its config texts when `texts` settles; passes on the degradations the workers report. */
function followWorkers(texts: (w: Worker) => Promise<ConfigTexts>, degradations: { report(w: Worker, d: Degradation[]): void }): void {
  cluster.on('message', (w: Worker, m: unknown) => {
    if (isMessage<WorkerMessage & { type: 'mtls-gateway:config-request' }>(m, 'mtls-gateway:config-request')) {
      void texts(w).then((t) => w.send({ type: 'mtls-gateway:config', ...t } satisfies PrimaryMessage, undefined, () => {}))
    }
    if (isMessage<WorkerMessage & { type: 'mtls-gateway:degradations' }>(m, 'mtls-gateway:degradations')) degradations.report(w, m.degradations)
  })
}

/**
 * The instance's degradations, logged once each (degradation-log.ts): the latest report of a worker on
 * the accepted config. While a reload runs a worker may report a config the instance then refuses
 * (before it goes back, or one left on it and drained): reports wait until the reload settled, and
 * only the latest one of a worker not left behind counts.
 */
function followDegradations(log: DegradationLog, reloads: Pick<ReloadCoordinator, 'settled' | 'leaving'>): { report(w: Worker, d: Degradation[]): void } {
  let latest: { w: Worker; d: Degradation[] } | undefined
  let waiting = false
  const apply = (): void => {
    const pending = reloads.settled()
    if (pending) return void pending.then(apply, apply)
    waiting = false
    if (latest && !reloads.leaving().has(latest.w)) log.update(latest.d)
    latest = undefined
  }
  return {
    report(w, d) {
      if (reloads.leaving().has(w)) return
      latest = { w, d }
      if (!waiting) (waiting = true), apply()
    },
  }
}
