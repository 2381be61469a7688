/** `serve` in a process that serves requests: the one process of `--workers 1`, or a worker of a cluster. */
import cluster from 'node:cluster'
import { holdServeSignals } from '../process/index.js'
import { connectWorker, createLog, createOps, logProcessWarnings, reportStartFailure, requestConfigTexts, type ConfigTexts, type RunningOps } from '../ops/index.js'
import { startGateway, type RunningGateway } from './gateway-root.js'
import { announce, type ServeCommandOptions } from './serve-command.js'
import { describeError } from './options.js'
import { announceListeners } from '../proxy/bind-listener.js'

/** Starts the gateway; one process prints its ready lines, a worker reports to its primary. */
export async function serveProcess(o: ServeCommandOptions): Promise<void> {
  // One process: a SIGTERM or SIGINT while it starts drains once it serves (its listeners bound), a SIGHUP reloads then
  // (ops/signals.ts). A worker's primary does both: a worker ignores SIGINT and SIGHUP from its start on (the primary relays
  // them), and one still starting (waiting for its config, building it, its listen() pending) exits 0 at its SIGTERM (nothing
  // served, nothing to drain): by default it ended by the signal, or by Ctrl-C, as if it had crashed.
  holdServeSignals()
  // With workers every process writes to the same stdout: writes must not cut each other's lines.
  const log = createLog({ level: o.logLevel, format: o.logFormat, sharedOutput: o.workers > 1 })
  logProcessWarnings(log.logger)
  const ops = createOps({ log, signals: true, worker: cluster.isWorker })
  let gw: RunningGateway
  let configTexts: ConfigTexts | undefined
  try {
    configTexts = cluster.isWorker ? await requestConfigTexts() : undefined
    gw = await startGateway({ configFile: o.configFile, ops, ...(configTexts ? { configTexts } : {}), ...(o.port !== undefined ? { listen: { port: o.port } } : {}) })
  } catch (e) {
    if (!cluster.isWorker) throw e
    // The primary reports it, so a failed start is one line however many workers hit it.
    await reportStartFailure(describeError(e))
    return process.exit(1)
  }
  const running = gw.ops as RunningOps
  // A worker's fallback is its primary's to say, once for the instance (workers.ts).
  if (cluster.isWorker) connectWorker(running, ops.metrics.registry, gw.binding)
  else announceListeners(log.logger, announce, gw.binding, running.adminUrl && running.adminOn ? { url: running.adminUrl, on: running.adminOn } : undefined)
  // Only now, every listener bound (a drain closes what serves): a signal held so far is handled here, once.
  running.serving()
}

