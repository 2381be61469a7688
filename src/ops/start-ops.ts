/**
 * The parts of ops that need the running listener: in-flight tracking, hot reload (file
 * watching and SIGHUP), drain (SIGTERM) and the admin listener.
 */
import type { Gateway } from '../gateway/index.js'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { runProbes, startAdmin, type AdminServer, type Readiness } from './admin.js'
import { listeningUrl, type AdminFacts, type HandshakeRecorder, type ReloadRecord } from './admin-facts.js'
import { descriptorShortfall } from './connection-events.js'
import { createDrain } from './drain.js'
import { createExposition } from './exposition.js'
import { trackInFlight } from './in-flight.js'
import type { GatewayLog } from './log.js'
import type { Metrics } from './metrics.js'
import type { OpsOptions, OpsStartOptions, RunningOps } from './ops.js'
import { createReloader, type ReloadResult } from './reload.js'
import { createRetirer } from './retire.js'
import { installSignals } from './signals.js'
import { watchFiles, type ChangeWatcher } from './watch.js'
import { renewServerTls } from '../tls/index.js'

/** What createOps built, handed to startOps. */
export interface OpsParts {
  o: OpsOptions
  metrics: Metrics
  log: GatewayLog
  /** The snapshot is in force: gauges and redaction follow it. */
  adopt(g: Gateway): void
  handshakes: HandshakeRecorder
  closeObserver(): void
  /** Listener limit events, for the admin listener's own guard. */
  events?: ConnectionEvents
  /** Conditions that make the process not ready (e.g. out of file descriptors). */
  conditions?(): string[]
}

/** Starts in-flight tracking, reload (watch + SIGHUP), drain (SIGTERM), and the admin listener. */
export async function startOps(p: OpsParts, s: OpsStartOptions): Promise<RunningOps> {
  const { o, metrics, log } = p
  p.adopt(s.ref.current)
  metrics.configLoaded()
  const inFlight = trackInFlight(s.server, s.ref, (d) => metrics.inFlight(d))
  const retirer = createRetirer(inFlight)
  let watcher: ChangeWatcher | undefined
  let admin: AdminServer | undefined
  const onSwap = (g: Gateway): void => {
    p.adopt(g)
    watcher?.setFiles(g.config.files, g.config.secrets)
    // As a fresh start would: new connections get the certificates the new snapshot read.
    renewServerTls(s.server, g.listenerTls.proxy)
    if (admin) renewServerTls(admin.server, g.listenerTls.admin)
  }
  const onRefused = (files: readonly string[], hide: readonly string[]): void => watcher?.addFiles(files, hide)
  const reloader = createReloader({ configFile: s.configFile, ref: s.ref, compile: s.compile, onSwap, onRefused, retire: retirer.retire, log: log.logger, metrics })
  let lastReload: ReloadRecord | undefined
  let loadedAt = Date.now()
  const reload = async (trigger: string): Promise<ReloadResult> => {
    const result = await reloader.reload(trigger)
    lastReload = { at: Date.now(), trigger, result }
    if (result.ok) loadedAt = lastReload.at
    return result
  }
  if ((o.watch ?? true) && !o.worker) watcher = startWatcher(p, s, () => void reload('file change'))
  let removeSignals = (): void => {}
  const close = async (): Promise<void> => {
    removeSignals()
    watcher?.close()
    inFlight.stop()
    p.closeObserver()
    await admin?.close()
  }
  const drain = createDrain({
    server: s.server,
    graceMs: () => s.ref.current.config.drain.graceMs,
    inFlight: () => inFlight.total,
    close: async () => {
      await close()
      await Promise.allSettled([s.ref.current.close(), retirer.settled(), s.onDrained?.()])
    },
    log: log.logger,
    exit:
      o.exit ??
      ((code) => {
        void log.end().finally(() => process.exit(code))
      }),
  })
  // Listener limits are read at start, like the descriptor limit: said once, per process.
  const shortfall = descriptorShortfall(s.ref.current.config.listen.connections.max)
  if (shortfall) log.logger.warn({ problem: shortfall }, 'connection cap above the file descriptor limit')
  const probes = [...(o.probes ?? []), ...(s.probes ?? [])]
  // A degraded endpoint is not a reason: readiness is the process's, and the other endpoints serve.
  const readiness = (): Promise<Readiness> => runProbes(probes, [...(drain.draining ? ['draining'] : []), ...(p.conditions?.() ?? [])])
  if (o.signals) {
    const ignore = (): void => {}
    removeSignals = installSignals({
      SIGHUP: o.worker ? ignore : () => void reload('SIGHUP'),
      SIGINT: o.worker ? ignore : () => drain.begin('SIGINT'),
      SIGTERM: () => drain.begin('SIGTERM'),
    })
  }
  const cfg = s.ref.current.config.admin
  if (!o.worker && o.admin !== false && cfg.enabled) {
    const exposition = createExposition(metrics.registry)
    const facts: AdminFacts = {
      log: log.logger,
      workers: 1,
      gatewayUrl: () => listeningUrl(s.server),
      loadedAt: () => loadedAt,
      lastReload: () => lastReload,
      draining: () => drain.draining,
      reload,
      readiness,
      metrics: () => exposition.json(),
      handshakes: async () => p.handshakes.snapshot(),
    }
    const extra = s.adminRoutes?.(facts)
    admin = await startAdmin({ host: o.admin?.host ?? cfg.host, port: o.admin?.port ?? cfg.port, metrics: () => exposition.text(), readiness, limits: cfg, events: p.events, ...(s.ref.current.listenerTls.admin ? { tls: s.ref.current.listenerTls.admin } : {}), ...(extra ? { extra } : {}) })
  }
  return {
    adminUrl: admin?.url,
    get draining() {
      return drain.draining
    },
    reload: (trigger = 'api') => reload(trigger),
    handshakes: () => p.handshakes.snapshot(),
    readiness,
    drain: (trigger = 'api') => drain.begin(trigger),
    hold: inFlight.hold,
    close: async () => {
      await close()
      await retirer.settled()
    },
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
