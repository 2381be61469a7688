/**
 * The parts of ops that need the running listener: in-flight tracking, hot reload (file
 * watching and SIGHUP), drain (SIGTERM) and the admin listener.
 */
import type { ConfigSource } from '../config/index.js'
import type { Gateway } from '../gateway/index.js'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { runProbes, startAdmin, type AdminServer, type Readiness } from './admin.js'
import { listeningUrl, type AdminFacts, type HandshakeRecorder, type ReloadRecord } from './admin-facts.js'
import { descriptorShortfall } from './connection-events.js'
import { createDrain, drainEnded, type Drain } from './drain.js'
import { createExposition } from './exposition.js'
import { trackInFlight, type InFlight } from './in-flight.js'
import type { GatewayLog } from './log.js'
import type { Metrics } from './metrics.js'
import type { OpsOptions, OpsStartOptions, RunningOps } from './ops.js'
import { createReloader, type Reloader, type ReloadResult } from './reload.js'
import { createRetirer } from './retire.js'
import { opsSignals, reloadUnlessDraining } from './signals.js'
import { watchFiles, type ChangeWatcher } from './watch.js'
import { renewServerTls } from '../tls/index.js'
import { tunnelsReloaded } from '../proxy/reload-watchers.js'
import { closeAllConnections } from '../proxy/server-closers.js'

/** What createOps built, handed to startOps. */
export interface OpsParts {
  o: OpsOptions
  metrics: Metrics
  log: GatewayLog
  /** The snapshot is in force: gauges and redaction follow it. */
  adopt(g: Gateway): void
  handshakes: HandshakeRecorder
  closeObserver(): void
  /** Writes the pending caller-fault summaries (every exit of a drain, a cut one too). */
  flushLines(): void
  /** Listener limit events, for the admin listener's own guard. */
  events?: ConnectionEvents
  /** Conditions that make the process not ready (e.g. out of file descriptors). */
  conditions?(): string[]
}

/** What startOps's parts share: the watcher and admin listener once started. */
interface Live {
  watcher?: ChangeWatcher
  admin?: AdminServer
}

/** Reload as startOps exposes it, remembering the last one and when the config in force was loaded. */
interface Reloads {
  reload(trigger: string, source?: ConfigSource): Promise<ReloadResult>
  lastReload(): ReloadRecord | undefined
  loadedAt(): number
}

/** Starts in-flight tracking, reload (watch + SIGHUP), drain (SIGTERM), and the admin listener. */
export async function startOps(p: OpsParts, s: OpsStartOptions): Promise<RunningOps> {
  const { o, metrics, log } = p
  p.adopt(s.ref.current)
  metrics.configLoaded()
  const inFlight = trackInFlight(s.server, (d) => metrics.inFlight(d))
  const retirer = createRetirer(inFlight)
  const live: Live = {}
  const onSwap = (g: Gateway): void => swapped(p, s, live, g)
  const onRefused = (files: readonly string[], hide: readonly string[]): void => live.watcher?.addFiles(files, hide)
  const reloads = trackReloads(createReloader({ configFile: s.configFile, ref: s.ref, compile: s.compile, onSwap, onRefused, retire: retirer.retire, draining: () => drain.draining, log: log.logger, metrics }))
  // The drain's closing keeps the signal handlers to the exit: removed, a SIGHUP or a second
  // SIGTERM meanwhile would end the process by the signal's default action, its last lines unwritten.
  const close = async (): Promise<void> => {
    live.watcher?.close()
    inFlight.stop()
    p.closeObserver()
    await live.admin?.close()
  }
  const drain = createOpsDrain(p, s, inFlight, async (budgetMs) => {
    const deadline = performance.now() + budgetMs
    await close()
    await Promise.allSettled([s.ref.current.close(), retirer.settled(), s.onDrained?.(Math.max(0, deadline - performance.now()))])
  })
  const reload = reloadUnlessDraining(() => drain.draining, log.logger, (trigger) => reloads.reload(trigger))
  if ((o.watch ?? true) && !o.worker) live.watcher = startWatcher(p, s, () => reload('file change'))
  // Listener limits are read at start, like the descriptor limit: said once, per process.
  const shortfall = descriptorShortfall(s.ref.current.config.listen.connections.max)
  if (shortfall) log.logger.warn({ problem: shortfall }, 'connection cap above the file descriptor limit')
  const probes = [...(o.probes ?? []), ...(s.probes ?? [])]
  // A degraded endpoint is not a reason: readiness is the process's, and the other endpoints serve.
  const readiness = (): Promise<Readiness> => runProbes(probes, [...(drain.draining ? ['draining'] : []), ...(p.conditions?.() ?? [])])
  live.admin = await startOpsAdmin(p, s, reloads, drain, readiness)
  // Installed once the listeners are bound (RunningOps.serving, signals.ts): a drain never closes a pending listen().
  const signals = opsSignals(o, reload, drain)
  return runningOps(p, inFlight, reloads, drain, readiness, live.admin, signals.serving, async () => {
    signals.remove()
    await close()
    await retirer.settled()
  })
}

/** A good reload's snapshot is in force: gauges, redaction, watched files and the listeners' certificates follow it. */
function swapped(p: OpsParts, s: OpsStartOptions, live: Live, g: Gateway): void {
  p.adopt(g)
  live.watcher?.setFiles(g.config.files, g.config.secrets)
  // As a fresh start would: new connections get the certificates the new snapshot read.
  renewServerTls(s.server, g.listenerTls.proxy)
  // Tunnels opened before: closed when idle, refused at their next request, when the new snapshot outdates them.
  tunnelsReloaded(s.server, g)
  if (live.admin) renewServerTls(live.admin.server, g.listenerTls.admin)
}

function trackReloads(reloader: Reloader): Reloads {
  let lastReload: ReloadRecord | undefined
  let loadedAt = Date.now()
  return {
    reload: async (trigger, source) => {
      const result = await reloader.reload(trigger, source)
      // Abandoned by a drain: nothing changed, and no verdict on the config to show.
      if (!result.ok && result.abandoned) return result
      lastReload = { at: Date.now(), trigger, result }
      if (result.ok) loadedAt = lastReload.at
      return result
    },
    lastReload: () => lastReload,
    loadedAt: () => loadedAt,
  }
}

function createOpsDrain(p: OpsParts, s: OpsStartOptions, inFlight: InFlight, close: (budgetMs: number) => Promise<void>): Drain {
  return createDrain({
    server: s.server,
    graceMs: () => s.ref.current.config.drain.graceMs,
    inFlight: () => inFlight.total,
    close,
    endInFlight: async (why) => {
      const ended = drainEnded(why)
      await inFlight.end(ended.running, ended.notStarted, END_WAIT_MS)
      // What no request holds (tunnels, connections between requests) closes too, each once its answer has left; their lines are written on close.
      await closeAllConnections(s.server)
      await new Promise((resolve) => setImmediate(resolve))
    },
    log: p.log.logger,
    // A drain that ends in exit 1 (requests cut, a second signal) never reaches close(): the
    // summaries of what an attacker holding connections open did are written here all the same.
    exit: (code) => {
      p.flushLines()
      if (p.o.exit) return p.o.exit(code)
      void p.log.end().finally(() => process.exit(code))
    },
  })
}

/** How long the requests a drain ends get to send their answers before the process exits. */
const END_WAIT_MS = 500

/** The admin listener, unless this is a worker, admin is off in the options or in the config. */
async function startOpsAdmin(p: OpsParts, s: OpsStartOptions, reloads: Reloads, drain: Drain, readiness: () => Promise<Readiness>): Promise<AdminServer | undefined> {
  const { o } = p
  const cfg = s.ref.current.config.admin
  if (o.worker || o.admin === false || !cfg.enabled) return undefined
  const exposition = createExposition(p.metrics.registry)
  const facts: AdminFacts = {
    log: p.log.logger,
    workers: 1,
    gatewayUrl: () => listeningUrl(s.server),
    loadedAt: reloads.loadedAt,
    lastReload: reloads.lastReload,
    draining: () => drain.draining,
    reload: reloads.reload,
    readiness,
    metrics: () => exposition.json(),
    handshakes: async () => p.handshakes.snapshot(),
    consoleRefusal: p.metrics.consoleRefusal, recordResealed: p.metrics.recordResealed,
  }
  const extra = await s.adminRoutes?.(facts)
  return startAdmin({ host: o.admin?.host ?? cfg.host, port: o.admin?.port ?? cfg.port, metrics: () => exposition.text(), readiness, limits: cfg, allowedHosts: () => s.ref.current.config.admin.allowedHosts, log: p.log.logger, events: p.events, onAuthFailure: p.metrics.callerAuthFailure, ...(s.ref.current.listenerTls.admin ? { tls: s.ref.current.listenerTls.admin } : {}), ...(extra ? { extra } : {}) })
}

function runningOps(p: OpsParts, inFlight: InFlight, reloads: Reloads, drain: Drain, readiness: () => Promise<Readiness>, admin: AdminServer | undefined, serving: () => void, close: () => Promise<void>): RunningOps {
  return {
    adminUrl: admin?.url,
    adminOn: admin?.on,
    serving,
    get draining() {
      return drain.draining
    },
    reload: (trigger = 'api', source) => reloads.reload(trigger, source),
    handshakes: () => p.handshakes.snapshot(),
    readiness,
    drain: (trigger = 'api', graceMs) => drain.begin(trigger, graceMs),
    hold: inFlight.hold,
    close,
  }
}

function startWatcher(p: OpsParts, s: OpsStartOptions, onChange: () => void): ChangeWatcher {
  return watchFiles({
    files: s.ref.current.config.files,
    hide: s.ref.current.config.secrets,
    ...(p.o.debounceMs !== undefined ? { debounceMs: p.o.debounceMs } : {}),
    onChange,
    onError: (dir, code) => p.log.logger.warn({ dir, err: code }, 'cannot watch directory; SIGHUP still reloads'),
  })
}
