/**
 * A `--workers` instance's hot reload, judged in one place (the primary): it reads the config
 * and every file it references once, judges them as a start would, relays exactly those bytes
 * to every serving worker and waits for each answer. The reload is accepted only when every
 * worker built it; otherwise it failed, loudly, and the instance keeps one config: the workers
 * that built the new one go back to the last good one (rebuilt from its bytes), and a worker
 * that did not answer, or could not go back, is drained and replaced from the last good config.
 * A starting worker gets its texts between reloads and holds the next until it serves, so it reaches it too (start-gate.ts).
 */
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { withConfigFiles, type ConfigSource, type GatewayConfig } from '../config/index.js'
import type { ListenerTls } from '../gateway/index.js'
import { adoptConfig, restartBaseline, type RestartBaseline } from '../runtime/index.js'
import type { ReloadRecord } from './admin-facts.js'
import { abandonReload, type ReloadResult } from './reload.js'
import { judgeReload, type Judged } from './reload-judge.js'
import { createReloadMetrics } from './reload-metrics.js'
import { createStartGate, type StartGate, type StartKill } from './start-gate.js'
import type { WorkerDrainReason } from './worker-counters.js'
import type { Answer, Ask, ConfigTexts, RelayedReload } from './worker-link.js'

/** What the coordinator needs from the primary. */
export interface ReloadCoordinatorOptions {
  configFile: string
  /** The start's config as read (and judged) by the primary. */
  start: ConfigSource & { config: GatewayConfig }
  log: Logger
  /** The primary's registry: the instance's config_reloads_total lives here. */
  registry: Registry
  ask: Ask
  /** The workers serving now (a reload is relayed to these). */
  serving(): Worker[]
  /** The instance drains: a reload in progress is abandoned, never accepted or rolled back. */
  draining(): boolean
  /** Drains a worker on purpose (once: a second SIGTERM would cut its requests), or kills one still starting; its exit is replaced. */
  drainWorker(w: Worker, reason: WorkerDrainReason): void
  killStarting(w: Worker, reason: WorkerDrainReason, why: StartKill): void
  /** The instance accepted `config` (its bytes pinned while this runs): watch its files, renew the admin certificate. */
  onAccepted(config: GatewayConfig, listenerTls: ListenerTls): void
  /** A reload was refused: the files the refused config names (one missing may yet arrive); its bytes pinned, when it was read. */
  onRefused(files: readonly string[], hide: readonly string[]): void
  answerTimeoutMs: number
}

/** The instance's reload and the config it runs. */
export interface ReloadCoordinator {
  /** Reloads now; concurrent calls share the next run. */
  reload(trigger: string): Promise<ReloadResult>
  /** The config in force on every worker: the start's, then each accepted reload's. */
  current(): GatewayConfig
  /** What starting worker `w` builds from: now, or the result of the reload in progress as it settles; the next reload waits until `w` serves (or exits). */
  texts(w: Worker): Promise<ConfigTexts>
  lastReload(): ReloadRecord | undefined
  loadedAt(): number
  /** Workers left on a config the instance did not accept, draining until they exit (readiness notes them). */
  leaving(): ReadonlySet<Worker>
  /** The reload in progress (or the one queued behind it) until it settles; undefined when none. */
  settled(): Promise<unknown> | undefined
}

/** What the instance runs, and the workers it no longer vouches for. */
interface Instance {
  config: GatewayConfig
  /** The baseline the workers judge restart-only keys against (runtime.ts), followed as they follow it. */
  baseline: RestartBaseline
  /** What a starting worker builds from. */
  texts: ConfigTexts
  starting: StartGate
  loadedAt: number
  lastReload?: ReloadRecord
  leaving: Set<Worker>
  metrics: ReturnType<typeof createReloadMetrics>
}

/** Creates the primary's reload coordinator over the start's config. */
export function createReloadCoordinator(o: ReloadCoordinatorOptions): ReloadCoordinator {
  const baseline = restartBaseline(o.start.config)
  const texts: ConfigTexts = { start: o.start.text, current: o.start.text, startFiles: o.start.files, currentFiles: o.start.files, ...(baseline.store ? { store: baseline.store } : {}) }
  const at: Instance = { config: o.start.config, baseline, texts, starting: createStartGate(), loadedAt: Date.now(), leaving: new Set(), metrics: createReloadMetrics(o.registry) }
  at.metrics.configLoaded()
  let running: Promise<ReloadResult> | undefined
  let queued: Promise<ReloadResult> | undefined
  const run = (trigger: string): Promise<ReloadResult> => (running = recordReload(o, at, trigger).finally(() => { running = undefined; at.starting.release() }))
  return {
    reload(trigger) {
      if (!running) return run(trigger)
      // A change arrived mid-reload: one more run after this one reads it; later callers join it.
      queued ??= running.then(() => {
        queued = undefined
        return run(trigger)
      })
      return queued
    },
    current: () => at.config,
    texts: (w) => {
      const reloading = (running ?? queued) !== undefined
      if (reloading) o.log.info({ worker: w.process.pid }, 'a starting worker waits for the reload in progress to get its config')
      return at.starting.hand(w, () => Object.assign({}, at.texts), reloading ? 'after-reload' : 'now')
    },
    lastReload: () => at.lastReload, loadedAt: () => at.loadedAt, leaving: () => at.leaving, settled: () => queued ?? running,
  }
}

/** One reload of the instance, recorded: counted once, the last reload, and a refusal logged with every reason. */
async function recordReload(o: ReloadCoordinatorOptions, at: Instance, trigger: string): Promise<ReloadResult> {
  const result = await reloadInstance(o, at, trigger)
  // Abandoned by a drain: said once, nothing changed, no verdict on the config (not counted).
  if (!result.ok && result.abandoned) return result
  at.lastReload = { at: Date.now(), trigger, result }
  at.metrics.configReload(result.ok ? 'success' : 'failure')
  if (result.ok) at.loadedAt = at.lastReload.at
  else o.log.error({ trigger, problems: result.problems }, 'config reload failed; keeping the last good config')
  return result
}

/** Reads and judges once, relays those bytes to every serving worker, and accepts only when each built them. */
async function reloadInstance(o: ReloadCoordinatorOptions, at: Instance, trigger: string): Promise<ReloadResult> {
  await at.starting.settle(o.log, o.answerTimeoutMs, (w, why) => o.killStarting(w, 'start_outlasted_reload', why))
  if (o.draining()) return abandonReload(trigger, o.log)
  const j = judgeReload(o.configFile, at.baseline, o.onRefused)
  if (!j.ok) return j
  o.log.info({ trigger }, 'reload: relaying to every worker')
  const answers = await relay(o, o.serving().filter((w) => !at.leaving.has(w)), { trigger, ...j.source })
  // A drain began while the workers built it: the instance adopts no config now, and rolls none back (its workers take no new connection).
  if (o.draining()) return abandonReload(trigger, o.log)
  // A worker draining on its own signal (not the instance) abandons it: it takes no new connection, its verdict does not count.
  const refusals = answers.filter(({ value }) => !isBuilt(value) && !isAbandoned(value))
  if (refusals.length === 0) return accept(o, at, j, trigger)
  withConfigFiles(j.source.files, () => o.onRefused(j.config.files, j.config.secrets))
  for (const { worker, value } of refusals) if (value === undefined) leave(o, at, worker, `it did not answer the reload within ${o.answerTimeoutMs} ms`, 'reload_unanswered')
  // The workers that built it go back to the last good config, rebuilt from its bytes (as a fresh start of it).
  const built = answers.filter(({ value }) => isBuilt(value)).map(({ worker }) => worker)
  const back = await relay(o, built, { trigger: `rollback of ${trigger}`, text: at.texts.current, files: at.texts.currentFiles })
  for (const { worker, value } of back) if (!isBuilt(value)) leave(o, at, worker, 'it could not go back to the last good config', 'rollback_failed')
  // One that went back keeps a store the reload made it open (README): the instance's store from now on.
  if (back.some(({ value }) => isBuilt(value))) keepStore(at, j.config)
  return { ok: false, problems: refusals.map(({ worker, value, exited }) => `worker ${worker.process.pid}: ${value === undefined ? (exited ? 'exited before it answered the reload' : `no answer to the reload within ${o.answerTimeoutMs} ms`) : (value as { problems: string[] }).problems.join('; ')}`) }
}

function isBuilt(value: unknown): boolean {
  return (value as ReloadResult | undefined)?.ok === true
}

function isAbandoned(value: unknown): boolean {
  const result = value as ReloadResult | undefined
  return result?.ok === false && result.abandoned === true
}

function relay(o: ReloadCoordinatorOptions, workers: Worker[], reload: RelayedReload): Promise<Answer[]> {
  return o.ask(workers, { reload }, o.answerTimeoutMs)
}

/** A serving worker opened `config`'s store: later reloads are judged against it, and a replacement opens it too. */
function keepStore(at: Instance, config: GatewayConfig): void {
  at.baseline = adoptConfig(at.baseline, config)
  if (at.baseline.store) at.texts.store = at.baseline.store
}

/** Every worker built it: the instance runs it, and a replacement starts from it. */
function accept(o: ReloadCoordinatorOptions, at: Instance, j: Judged & { ok: true }, trigger: string): ReloadResult {
  at.config = j.config
  keepStore(at, j.config)
  Object.assign(at.texts, { current: j.source.text, currentFiles: j.source.files })
  withConfigFiles(j.source.files, () => o.onAccepted(j.config, j.listenerTls))
  at.metrics.configLoaded()
  o.log.info({ trigger, endpoints: j.config.endpoints.length }, 'reload accepted by every worker')
  return { ok: true, endpoints: j.config.endpoints.length }
}

/** A worker whose config the instance cannot vouch for serves no more: drained, then replaced from the last good config. */
function leave(o: ReloadCoordinatorOptions, at: Instance, w: Worker, why: string, reason: WorkerDrainReason): void {
  if (w.isDead()) return
  at.leaving.add(w)
  w.once('exit', () => at.leaving.delete(w))
  o.log.error({ worker: w.process.pid, problem: why, reason }, 'worker left on a config the instance did not accept: draining and replacing it')
  o.drainWorker(w, reason)
}
