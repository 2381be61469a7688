/**
 * Everything operational around one listener, composed once: metrics, access log, upstream
 * connection facts, admin listener, hot reload, drain and signals. The composition root gets
 * two hooks (onConnect for compile, onDone for the listener) and one start() call.
 */
import type { Server } from 'node:http'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../config/index.js'
import type { ConnectInfo, Gateway } from '../gateway/index.js'
import type { GatewayRef, RequestRecord } from '../proxy/listener.js'
import { isHandshakeReason } from '../tls/index.js'
import { runProbes, startAdmin, type AdminServer, type Readiness, type ReadinessProbe } from './admin.js'
import { bundleProblems, certificateExpiries } from './certificates.js'
import { configSecretValues } from './config-secrets.js'
import { createDrain } from './drain.js'
import { trackInFlight } from './in-flight.js'
import { createRetirer } from './retire.js'
import { installSignals } from './signals.js'
import { createLog, type GatewayLog } from './log.js'
import { createMetrics, type Metrics } from './metrics.js'
import { createReloader, type ReloadResult } from './reload.js'
import { observeUpstream } from './upstream-facts.js'
import { watchFiles, type ChangeWatcher } from './watch.js'

export interface OpsOptions {
  /** Default: JSON lines on stdout at level info. */
  log?: GatewayLog
  registry?: Registry
  /** Overrides config.admin's address (tests use port 0); false: no admin listener. */
  admin?: { host?: string; port?: number } | false
  /** Extra /readyz checks, e.g. the store's ping. */
  probes?: readonly ReadinessProbe[]
  /** Watch the config and the files it references (default true; off in cluster workers). */
  watch?: boolean
  debounceMs?: number
  /** Handle SIGHUP (reload) and SIGTERM/SIGINT (drain): the CLI does, in-process tests don't. */
  signals?: boolean
  /** A cluster worker: the primary owns admin, watching and SIGHUP/SIGINT. */
  worker?: boolean
  /** Process exit (default: flush the log, process.exit). */
  exit?: (code: number) => void
}

export interface OpsStartOptions {
  configFile: string
  ref: GatewayRef
  server: Server
  /** The same compile the gateway started with (hooks included), for reloads. */
  compile(config: GatewayConfig): Gateway
  /** Readiness checks known only once services exist (the store's ping). */
  probes?: readonly ReadinessProbe[]
}

/** The composition root's observability hooks (StartOptions.hooks in cli/serve.ts). */
export interface OpsHooks {
  onConnect(info: ConnectInfo): void
  onAuthFailure(label: string): void
  onSignature(profile: string, method: string): void
  onEgressRefusal(reason: string): void
  onTunnel(kind: 'intercepted' | 'pass_through' | 'refused'): void
  onMint(host: string, ms: number): void
}

export interface RunningOps {
  readonly adminUrl: string | undefined
  readonly draining: boolean
  reload(trigger?: string): Promise<ReloadResult>
  readiness(): Promise<Readiness>
  /** Starts draining (a second call exits at once). */
  drain(trigger?: string): void
  /** Pins a snapshot for work the listener does not see (CONNECT tunnels): reload closes its pools only after release. */
  hold(gateway: Gateway): () => void
  /** Stops admin, watcher, signal handlers and observers; the listener and pools are the caller's. */
  close(): Promise<void>
}

export interface Ops {
  readonly metrics: Metrics
  readonly log: GatewayLog
  /** Compile, admission and signing hooks. */
  readonly hooks: OpsHooks
  /** ListenerOptions.onDone. */
  readonly onDone: (record: RequestRecord) => void
  start(o: OpsStartOptions): Promise<RunningOps>
}

/** Creates the metrics, log and hooks; start() adds the parts that need the running listener. */
export function createOps(o: OpsOptions = {}): Ops {
  const log = o.log ?? createLog()
  const metrics = createMetrics(o.registry ? { registry: o.registry } : {})
  const upstream = observeUpstream({
    onConnection: (info) => metrics.upstreamConnection(info.endpoint, info.resumed, info.handshakeMs),
    onReuse: (endpoint) => metrics.upstreamReuse(endpoint),
  })
  const onDone = (r: RequestRecord): void => {
    metrics.request(r.facts.endpoint, r.method, r.status, r.durationMs, r.facts.upstreamMs)
    if (r.error && isHandshakeReason(r.error.reason)) metrics.handshakeFailure(r.facts.endpoint ?? 'none', r.error.reason)
    log.access(r, upstream.take(r.id))
  }
  const adopt = (g: Gateway): void => {
    log.addSecretValues(configSecretValues(g.config))
    metrics.setCertificateExpiry(certificateExpiries(g))
  }
  return {
    metrics,
    log,
    hooks: {
      onConnect: upstream.onConnect, onAuthFailure: metrics.callerAuthFailure, onSignature: metrics.oauthSignature, onEgressRefusal: metrics.egressRefusal,
      onTunnel: metrics.tunnel,
      onMint: (_host, ms) => metrics.leafMinted(ms),
    },
    onDone,
    start: (s) => startOps({ o, metrics, log, adopt, closeObserver: () => upstream.close() }, s),
  }
}

interface Parts {
  o: OpsOptions
  metrics: Metrics
  log: GatewayLog
  /** The snapshot is in force: gauges and redaction follow it. */
  adopt(g: Gateway): void
  closeObserver(): void
}

async function startOps(p: Parts, s: OpsStartOptions): Promise<RunningOps> {
  const { o, metrics, log } = p
  p.adopt(s.ref.current)
  metrics.configLoaded()
  const inFlight = trackInFlight(s.server, s.ref, (d) => metrics.inFlight(d))
  const retirer = createRetirer(inFlight)
  let watcher: ChangeWatcher | undefined
  const onSwap = (g: Gateway): void => {
    p.adopt(g)
    watcher?.setFiles(g.config.files)
  }
  const reloader = createReloader({ configFile: s.configFile, ref: s.ref, compile: s.compile, onSwap, retire: retirer.retire, log: log.logger, metrics })
  if ((o.watch ?? true) && !o.worker) watcher = startWatcher(p, s, () => void reloader.reload('file change'))
  let admin: AdminServer | undefined
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
      await Promise.allSettled([s.ref.current.close(), retirer.settled()])
    },
    log: log.logger,
    exit:
      o.exit ??
      ((code) => {
        log.flush()
        process.exit(code)
      }),
  })
  const probes = [...(o.probes ?? []), ...(s.probes ?? [])]
  const readiness = (): Promise<Readiness> => runProbes(probes, [...(drain.draining ? ['draining'] : []), ...bundleProblems(s.ref.current)])
  if (o.signals) {
    const ignore = (): void => {}
    removeSignals = installSignals({
      SIGHUP: o.worker ? ignore : () => void reloader.reload('SIGHUP'),
      SIGINT: o.worker ? ignore : () => drain.begin('SIGINT'),
      SIGTERM: () => drain.begin('SIGTERM'),
    })
  }
  const cfg = s.ref.current.config.admin
  if (!o.worker && o.admin !== false && cfg.enabled) {
    const registry = metrics.registry
    const exposition = async (): Promise<{ contentType: string; body: string }> => ({ contentType: registry.contentType, body: await registry.metrics() })
    admin = await startAdmin({ host: o.admin?.host ?? cfg.host, port: o.admin?.port ?? cfg.port, metrics: exposition, readiness })
  }
  return {
    adminUrl: admin?.url,
    get draining() {
      return drain.draining
    },
    reload: (trigger = 'api') => reloader.reload(trigger),
    readiness,
    drain: (trigger = 'api') => drain.begin(trigger),
    hold: inFlight.hold,
    close: async () => {
      await close()
      await retirer.settled()
    },
  }
}

function startWatcher(p: Parts, s: OpsStartOptions, onChange: () => void): ChangeWatcher {
  return watchFiles({
    files: s.ref.current.config.files,
    ...(p.o.debounceMs !== undefined ? { debounceMs: p.o.debounceMs } : {}),
    onChange,
    onError: (dir, err) => p.log.logger.warn({ dir, err: err.message }, 'cannot watch directory; SIGHUP still reloads'),
  })
}
