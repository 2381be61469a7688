/**
 * Everything operational around one listener, composed once: metrics, access log, upstream
 * connection facts, admin listener, hot reload, drain and signals. The composition root gets
 * the hooks (compile, admission, signing, CONNECT), onDone for the listener, and one start() call.
 */
import type { Server } from 'node:http'
import type { Registry } from 'prom-client'
import type { ConfigSource, GatewayConfig } from '../config/index.js'
import type { Gateway } from '../gateway/index.js'
import type { GatewayRef, RequestRecord } from '../proxy/listener.js'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { isHandshakeReason } from '../tls/index.js'
import type { Readiness, ReadinessProbe } from './admin.js'
import { createHandshakeRecorder, type AdminRoutesFactory, type HandshakeFacts, type HandshakeRecorder } from './admin-facts.js'
import { logTlsFileDegradations, setSnapshotCertificates } from './certificates.js'
import { configSecretValues } from './config-secrets.js'
import { logConfigWarnings } from './config-warnings.js'
import { createDegradationLog, reportDegradations, watchDegradations } from './degradation-log.js'
import { createLog, type GatewayLog } from './log.js'
import { createMetrics, endpointLabel, type Metrics } from './metrics.js'
import type { ReloadResult } from './reload.js'
import { watchSnapshot } from './snapshot-gauges.js'
import { startOps } from './start-ops.js'
import { observeUpstream } from './upstream-facts.js'
import { connectionEvents, createFdPressure } from './connection-events.js'
import { countRefusal, exemplarTraceId, handshakeFailed } from './record-counts.js'
import { capCallerFaultLines } from './caller-fault-lines.js'
import { opsHooks, type OpsHooks } from './ops-hooks.js'

/** How ops run: log, registry, admin address, probes, watching, signals, worker role. */
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
  /** Handle SIGHUP (reload) and SIGTERM/SIGINT (drain) once the listener serves (RunningOps.serving): the CLI does, in-process tests don't. */
  signals?: boolean
  /** A cluster worker: the primary owns admin, watching and SIGHUP/SIGINT. */
  worker?: boolean
  /** Process exit (default: flush the log, process.exit). */
  exit?: (code: number) => void
}

/** The running gateway ops attach to. */
export interface OpsStartOptions {
  configFile: string
  ref: GatewayRef
  server: Server
  /** The same compile the gateway started with (hooks included), for reloads. */
  compile(config: GatewayConfig): Gateway
  /** Readiness checks known only once services exist (the store's ping). */
  probes?: readonly ReadinessProbe[]
  /** Routes mounted on the admin listener (the console), built once ops run. */
  adminRoutes?: AdminRoutesFactory
  /** Runs when a drain has let the last request finish, before exit (flushes buffered spans); must settle within `budgetMs`. */
  onDrained?: (budgetMs: number) => Promise<void>
}

/** Ops attached to a running gateway. */
export interface RunningOps {
  readonly adminUrl: string | undefined
  /** Where the admin listener listens, for its start-up line (bind-listener.ts). */
  readonly adminOn: string | undefined
  readonly draining: boolean
  /**
   * The listener is bound: the signal handlers are installed now (a signal held since the start,
   * holdSignals, is handled now), never before, so a drain never closes a listener whose listen()
   * is still pending. Does nothing without `signals`, or once closed.
   */
  serving(): void
  /** With `source` (a relayed reload): builds from exactly those bytes (Reloader.reload). */
  reload(trigger?: string, source?: ConfigSource): Promise<ReloadResult>
  readiness(): Promise<Readiness>
  /** Starts draining (a second call exits at once); `graceMs`: the primary's grace (Drain.begin). */
  drain(trigger?: string, graceMs?: number): void
  /** Pins a snapshot for work the listener does not see (CONNECT tunnels): reload closes its pools only after release. */
  hold(gateway: Gateway): () => void
  /** Each endpoint's last handshake in this process (the primary asks its workers). */
  handshakes(): HandshakeFacts
  /** Stops admin, watcher, signal handlers and observers; the listener and pools are the caller's. */
  close(): Promise<void>
}

/** Metrics, log and hooks, before the listener exists; start() attaches the rest. */
export interface Ops {
  readonly metrics: Metrics
  readonly log: GatewayLog
  /** Compile, admission and signing hooks. */
  readonly hooks: OpsHooks
  /** ListenerOptions.onDone. */
  readonly onDone: (record: RequestRecord) => void
  start(o: OpsStartOptions): Promise<RunningOps>
}

/** What adopting snapshot `g` says and sets at once: its secrets for redaction, its certificates' gauges, no series of a removed endpoint or profile and, by the process that speaks for the instance, its warnings. */
function adopted(o: OpsOptions, log: GatewayLog, metrics: Metrics, g: Gateway): void {
  log.addSecretValues(configSecretValues(g.config))
  setSnapshotCertificates(metrics, g)
  // At once: a reload that adds a removed endpoint back before the next scrape starts it from nothing.
  metrics.dropRemovedSeries()
  // A --workers primary says these once for the instance; TLS files' dates are judged when a config is compiled.
  if (o.worker) return
  logConfigWarnings(log.logger, g.config)
  logTlsFileDegradations(log.logger, g)
}
/** Creates the metrics, log and hooks; start() adds the parts that need the running listener. */
export function createOps(o: OpsOptions = {}): Ops {
  const log = o.log ?? createLog()
  // Start-up options (not per request).
  const metrics = createMetrics({ ...(o.registry ? { registry: o.registry } : {}), droppedLogLines: () => log.droppedLines() })
  const handshakes = createHandshakeRecorder()
  let current: Gateway | undefined
  // Scrape-time gauges of the snapshot in force; the server roots in use follow the upstream handshakes.
  const rootsInUse = watchSnapshot(metrics, () => current)
  const upstream = observeUpstream({
    onConnection: (info) => {
      metrics.upstreamConnection(info.endpoint, info.resumed, info.handshakeMs)
      handshakes.connected(info.endpoint, info.protocol, info.resumed)
      rootsInUse.connected(info)
    },
    onReuse: (endpoint) => metrics.upstreamReuse(endpoint),
  })
  const fd = createFdPressure()
  // Said once per instance when they start and end: a worker's primary says them (degradation-log.ts).
  const degradations = watchDegradations(() => current, o.worker ? reportDegradations : createDegradationLog(log.logger).update)
  // Read per line from the snapshot in force (reloadable); before start adopts one, no listener serves.
  const faults = capCallerFaultLines(log, () => current?.config.logging.callerFaults ?? { burst: 0, intervalMs: 0 })
  const connections = connectionEvents(metrics, log, fd, faults)
  const onDone = (r: RequestRecord): void => {
    countRefusal(r, metrics, fd)
    const trace = r.facts.trace
    const up = upstream.take(r.facts)
    const extras = { mode: r.mode, requestBytes: r.requestBytes, responseBytes: r.responseBytes, traceId: exemplarTraceId(r), tunnel: r.passThrough !== undefined }
    metrics.request(r.facts.endpoint, r.method, r.status, r.durationMs, r.facts.upstreamMs, extras)
    if (r.facts.upstreamRetries !== undefined && r.facts.endpoint !== undefined) metrics.upstreamRetry(r.facts.endpoint, r.facts.upstreamRetries)
    if (r.error && isHandshakeReason(r.error.reason)) handshakeFailed(metrics, handshakes, endpointLabel(r.facts.endpoint, r.mode), r.error.reason)
    trace?.connection(up)
    // Counted above in full; only the line is capped.
    if (faults.accessAllowed(r)) log.access(r, up)
  }
  const adopt = (g: Gateway): void => {
    current = g
    adopted(o, log, metrics, g)
    degradations.check()
  }
  return {
    metrics,
    log,
    hooks: opsHooks(metrics, log, upstream.onConnect, connections),
    onDone,
    // Pending summaries of capped lines are written when ops close (a drain), with the last lines.
    start: (s) => startOps({ o, metrics, log, adopt, handshakes, closeObserver: () => (upstream.close(), degradations.stop(), faults.flush()), flushLines: () => faults.flush(), conditions: () => fd.conditions(), events: connections }, s),
  }
}
