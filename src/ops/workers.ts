/**
 * `serve --workers N`: the primary of a node:cluster. Workers serve the one port (the
 * primary hands out connections round-robin); the primary owns the admin listener
 * (aggregated /metrics), file watching and signals, relays reload and drain to every worker,
 * and replaces a worker that crashes.
 */
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, collectDefaultMetrics, Counter, Registry, type RegistryContentType } from 'prom-client'
import { startProblems } from '../gateway/index.js'
import { renewServerTls } from '../tls/index.js'
import { loadConfigText, withConfigFiles, type GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import { openMetricsAggregate } from './aggregate-open-metrics.js'
import { runProbes, startAdmin, type AdminRoutes, type AdminServer, type Readiness, type ReadinessProbe } from './admin.js'
import { mergeHandshakes, type AdminFacts, type HandshakeFacts } from './admin-facts.js'
import { createReloadCoordinator } from './reload-coordinator.js'
import { configSecretValues } from './config-secrets.js'
import type { GatewayLog } from './log.js'
import { METRIC_PREFIX } from './metrics.js'
import { primaryConnectionEvents } from './primary-connection-events.js'
import { createMonotonicFloor, createRetainedMetrics } from './retained-metrics.js'
import { watchFiles } from './watch.js'
import { watchWorkers } from './worker-watchdog.js'
import { createAsker, isMessage, WorkerStartFailure, type PrimaryMessage, type WorkerMessage, type WorkerMetrics } from './worker-link.js'

/** The cluster primary's settings (the CLI passes them through). */
export interface PrimaryOptions {
  configFile: string
  workers: number
  log: GatewayLog
  admin?: { host?: string; port?: number }
  probes?: readonly ReadinessProbe[]
  debounceMs?: number
  /** Routes mounted on the admin listener (the console), seeing the whole instance and the configs the primary accepts. */
  adminRoutes?: PrimaryRoutesFactory
  /** Prints a ready line: {msg: "listening", url} and {msg: "admin listening", url}. */
  announce(line: { msg: string; url: string }): void
  exit?(code: number): void
}

/** The configs the primary accepts (what every worker runs), for the routes it hosts. */
export interface PrimaryConfigs {
  /** The config in force: the start's, then each accepted reload's. */
  current(): GatewayConfig
  /** Calls `fn` with each config accepted from now on, in order (so a store opens when the workers' does). */
  onAccepted(fn: (config: GatewayConfig) => void): void
}

/** Builds the primary's admin routes (the console) once the facts exist. */
export type PrimaryRoutesFactory = (facts: AdminFacts, configs: PrimaryConfigs) => AdminRoutes

type Listening = WorkerMessage & { type: 'mtls-gateway:listening' }
type StartFailed = WorkerMessage & { type: 'mtls-gateway:start-failed' }
const KILL_MARGIN_MS = 5000
const ASK_TIMEOUT_MS = 2000

/** Validates the config, forks the workers, waits until all listen, then serves admin. */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const start = loadConfigText(o.configFile)
  const startConfig = start.config
  // Judged on the bytes the workers get (they build from them, never from the disk).
  const { problems, listenerTls } = withConfigFiles(start.files, () => startProblems(startConfig))
  // Workers would fail the same way, and be restarted for ever: refuse here, once.
  if (problems.length > 0) throw new ConfigError(problems)
  o.log.addSecretValues(configSecretValues(startConfig))
  const logger = o.log.logger
  const exit = o.exit ?? ((code: number): void => {
    void o.log.end().finally(() => process.exit(code))
  })
  const registry = new Registry()
  // The primary's own process counts too: summed with the workers', process_* is the whole instance.
  collectDefaultMetrics({ register: registry })
  // prom-client omits process_start_time_seconds from an aggregate (each process has its own); the
  // earliest is the primary's: the instance's start, what uptime panels and restart alerts read.
  const startTime = registry.getSingleMetric('process_start_time_seconds') as { aggregator?: string } | undefined
  if (startTime) startTime.aggregator = 'min'
  // The admin listener is the primary's: its limit events count here, as in a single process.
  const { events: adminEvents, conditions } = primaryConnectionEvents(registry, o.log)
  const restarts = new Counter({ name: `${METRIC_PREFIX}worker_restarts_total`, help: 'Workers replaced after they exited unexpectedly.', registers: [registry] })
  const ask = createAsker(cluster)
  let draining = false
  let cutShort = false
  let started = false
  const crashes: number[] = []
  // Our own set: cluster.workers may still list a worker after its exit event.
  const live = new Set<Worker>()
  // What exited workers counted stays in the instance's counters (retained-metrics.ts).
  const retained = createRetainedMetrics<Worker>()
  const connected = (): Worker[] => [...live].filter((w) => w.isConnected())
  // Workers that said they listen: readiness asks only these, not a replacement still starting (or failing to).
  const serving = new WeakSet<Worker>()
  const fork = (): void => void live.add(cluster.fork())
  // The configs the console follows (it opens the store when the workers do).
  const accepted: ((config: GatewayConfig) => void)[] = []
  const reloads = createReloadCoordinator({
    configFile: o.configFile, start, log: logger, registry, ask,
    serving: () => connected().filter((w) => serving.has(w)),
    onAccepted: (next, tls) => {
      o.log.addSecretValues(configSecretValues(next))
      for (const fn of accepted) fn(next)
      watcher.setFiles(next.files, next.secrets)
      // The admin listener is the primary's: it takes the new certificate as the workers take theirs.
      if (admin) renewServerTls(admin.server, tls.admin)
    },
    onRefused: (files, hide) => watcher.addFiles(files, hide),
  })

  cluster.on('message', (w: Worker, m: unknown) => {
    if (isMessage<WorkerMessage & { type: 'mtls-gateway:config-request' }>(m, 'mtls-gateway:config-request')) {
      void reloads.texts().then((texts) => w.send({ type: 'mtls-gateway:config', ...texts } satisfies PrimaryMessage, undefined, () => {}))
    }
    // After the start a replacement's failure is no longer the instance's: log its reason.
    if (started && isMessage<StartFailed>(m, 'mtls-gateway:start-failed')) logger.error({ worker: w.process.pid, problem: m.line }, 'a replacement worker could not start')
    // And when it serves: until then the survivors carry the load (readiness asks only serving workers).
    if (isMessage<Listening>(m, 'mtls-gateway:listening')) {
      serving.add(w)
      if (started) logger.info({ worker: w.process.pid }, 'replacement worker listening')
    }
  })
  const url = await new Promise<string>((resolve, reject) => {
    let up = 0
    let failure: string | undefined
    const onMessage = (_w: Worker, m: unknown): void => {
      if (isMessage<StartFailed>(m, 'mtls-gateway:start-failed')) failure ??= m.line
      if (isMessage<Listening>(m, 'mtls-gateway:listening') && ++up === o.workers) {
        cluster.off('message', onMessage)
        resolve(m.url)
      }
    }
    cluster.on('message', onMessage)
    cluster.on('exit', (w, code, signal) => {
      live.delete(w)
      retained.depart(w)
      if (!started) {
        // The worker's own reason (a port in use…) is the one line; it did not print it.
        return reject(failure !== undefined ? new WorkerStartFailure(failure) : new Error(`worker ${w.process.pid} exited while starting (code ${code}, signal ${signal})`))
      }
      if (draining) {
        // A worker that hit its grace period cut requests: the instance's exit code says so.
        if (code !== 0 || signal) cutShort = true
        if (live.size === 0) void finish()
        return
      }
      restarts.inc()
      const now = Date.now()
      crashes.push(now)
      while (crashes.length > 0 && (crashes[0] as number) < now - 30_000) crashes.shift()
      // Back off when workers keep crashing, so a crash loop does not spin the CPU.
      const delay = Math.min(5000, 100 * 2 ** (crashes.length - 1))
      logger.error({ worker: w.process.pid, code, signal, restartInMs: delay }, 'worker exited unexpectedly: replacing it')
      setTimeout(() => void (draining || fork()), delay)
    })
    for (let i = 0; i < o.workers; i++) fork()
  }).catch((e: unknown) => {
    for (const w of live) w.process.kill('SIGKILL')
    throw e
  })
  started = true

  const gather = async (): Promise<WorkerMetrics[]> => {
    const own = await registry.getMetricsAsJSON()
    // Each answer recorded as it arrives, so a worker that exits during the scrape departs with it.
    const answers = await Promise.all(
      [...live].map(async (w) => {
        const value = w.isConnected() ? ((await ask([w], 'metrics', ASK_TIMEOUT_MS))[0]?.value as WorkerMetrics | undefined) : undefined
        if (value !== undefined) retained.report(w, value)
        return { w, value }
      }),
    )
    // A worker that exited meanwhile is in departed() already; one that did not answer in time counts what it last said.
    const current = answers.filter(({ w }) => live.has(w)).map(({ w, value }) => value ?? retained.lastCounts(w))
    return [own, retained.departed(), ...current]
  }
  const floor = createMonotonicFloor()
  // The aggregate of every process, lifted where float rounding made a counter read lower than before.
  const aggregateAll = async (): Promise<{ all: WorkerMetrics[]; aggregated: Registry<RegistryContentType> }> => {
    const all = await gather()
    const aggregated = AggregatorRegistry.aggregate(all)
    const lifts = floor.lift(await aggregated.getMetricsAsJSON())
    if (lifts.length === 0) return { all, aggregated }
    all.push(lifts)
    return { all, aggregated: AggregatorRegistry.aggregate(all) }
  }
  const aggregate = async (): Promise<Registry<RegistryContentType>> => (await aggregateAll()).aggregated
  const metrics = async (): Promise<{ contentType: string; body: string }> => {
    const { all, aggregated } = await aggregateAll()
    // As one process with tracing on: OpenMetrics, with the workers' trace ids as exemplars (tracing.enabled is restart-only).
    if (startConfig.tracing.enabled) await openMetricsAggregate(aggregated, all)
    return { contentType: aggregated.contentType, body: await aggregated.metrics() }
  }
  const readiness = async (): Promise<Readiness> => {
    const workers = connected().filter((w) => serving.has(w))
    const answers = await ask(workers, 'readiness', ASK_TIMEOUT_MS)
    const reasons = answers.flatMap(({ worker, value }) =>
      value === undefined ? [`worker ${worker.process.pid}: no readiness answer`] : (value as Readiness).reasons.map((r) => `worker ${worker.process.pid}: ${r}`),
    )
    if (workers.length === 0) reasons.push('no worker serving')
    reasons.push(...conditions(), ...reloads.conditions())
    if (draining) reasons.unshift('draining')
    const notes = answers.flatMap(({ worker, value }) => ((value as Readiness | undefined)?.notes ?? []).map((n) => `worker ${worker.process.pid}: ${n}`))
    const own = await runProbes(o.probes ?? [], reasons)
    const all = [...(own.notes ?? []), ...notes]
    // Per probe (not per request).
    return all.length > 0 ? { ...own, notes: all } : own
  }
  const facts: AdminFacts = {
    log: logger,
    workers: o.workers,
    gatewayUrl: () => url,
    loadedAt: reloads.loadedAt,
    lastReload: reloads.lastReload,
    draining: () => draining,
    reload: reloads.reload,
    readiness,
    metrics: async () => (await aggregate()).getMetricsAsJSON(),
    handshakes: async () => mergeHandshakes((await ask(connected(), 'handshakes', ASK_TIMEOUT_MS)).flatMap((a) => (a.value === undefined ? [] : [a.value as HandshakeFacts]))),
  }
  let admin: AdminServer | undefined
  const cfg = startConfig.admin
  if (cfg.enabled) {
    const extra = o.adminRoutes?.(facts, { current: reloads.current, onAccepted: (fn) => void accepted.push(fn) })
    admin = await startAdmin({ host: o.admin?.host ?? cfg.host, port: o.admin?.port ?? cfg.port, metrics, readiness, limits: cfg, events: adminEvents, ...(listenerTls.admin ? { tls: listenerTls.admin } : {}), ...(extra ? { extra } : {}) })
  }
  const watcher = watchFiles({
    files: startConfig.files,
    hide: startConfig.secrets,
    ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}),
    onChange: () => void reloads.reload('file change'),
    onError: (dir, code) => logger.warn({ dir, err: code }, 'cannot watch directory; SIGHUP still reloads'),
  })
  // A worker silent for about half a minute is killed and replaced (worker-watchdog.ts); not while draining.
  const watchdog = watchWorkers(ask, () => (draining ? [] : connected().filter((w) => serving.has(w))), logger)
  const finish = async (): Promise<void> => {
    watchdog.stop()
    watcher.close()
    await admin?.close()
    if (cutShort) logger.warn('a worker exited before its requests finished: exiting with code 1')
    else logger.info('all workers drained: exiting')
    exit(cutShort ? 1 : 0)
  }
  const drain = (signal: NodeJS.Signals): void => {
    for (const w of live) w.process.kill('SIGTERM')
    if (draining) {
      logger.warn({ signal }, 'second signal while draining: exiting now')
      return exit(1)
    }
    draining = true
    logger.info({ signal, workers: live.size }, 'draining every worker')
    setTimeout(() => {
      for (const w of live) w.process.kill('SIGKILL')
      exit(1)
    }, reloads.current().drain.graceMs + KILL_MARGIN_MS).unref()
    if (live.size === 0) void finish()
  }
  process.on('SIGHUP', () => void reloads.reload('SIGHUP'))
  process.on('SIGTERM', () => drain('SIGTERM'))
  process.on('SIGINT', () => drain('SIGINT'))
  o.announce({ msg: 'listening', url })
  if (admin) o.announce({ msg: 'admin listening', url: admin.url })
}
