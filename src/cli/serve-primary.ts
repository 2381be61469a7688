/**
 * `serve --workers N` in the cluster primary: it validates the config, forks and watches the
 * workers, coordinates reloads and serves the admin listener (metrics summed over workers, the
 * console). It serves no request, so it imports none of the request path (gateway-root.ts): only this,
 * ops/ and what validating a config needs, and the console when the config turns it on.
 */
import { loadConfig, type GatewayConfig } from '../config/index.js'
import { holdServeSignals } from '../process/index.js'
import { createLog, logProcessWarnings, runPrimary, type PrimaryConfigs, type PrimaryRoutesFactory } from '../ops/index.js'
import { createRuntime, createStoreFile } from '../runtime/index.js'
import type { PrimaryFollower } from './console-host.js'
import { createConsoleLoader } from './console-loader.js'
import { announce, type ServeCommandOptions } from './serve-command.js'

/** Runs the primary until it exits. */
export async function servePrimary(o: ServeCommandOptions): Promise<void> {
  // A SIGTERM or SIGINT while the workers start drains once they serve (ops/signals.ts); main.ts held them first thing.
  holdServeSignals()
  // Every process writes to the same stdout: writes must not cut each other's lines.
  const log = createLog({ level: o.logLevel, format: o.logFormat, sharedOutput: true })
  logProcessWarnings(log.logger)
  await createStoreFile(loadConfig(o.configFile))
  return runPrimary({ configFile: o.configFile, workers: o.workers, ...(o.reloadTimeoutMs !== undefined ? { reloadTimeoutMs: o.reloadTimeoutMs } : {}), log, announce, adminRoutes: primaryConsoleRoutes() })
}

/** The console on the primary's admin listener, over the configs it accepts. */
function primaryConsoleRoutes(): PrimaryRoutesFactory {
  return (facts, configs) => {
    const follower = followConfigs(configs)
    const consoles = createConsoleLoader()
    configs.onAccepted((next) => consoles.follow(next))
    return consoles.mount(() => follower.current().admin, (hosts) => hosts.primaryConsole(facts, follower), facts.log)
  }
}

/**
 * Opens the store as a worker's runtime does: it sees every config the workers accept, in
 * order, so it opens the store with the same one and judges restart-only keys alike.
 */
function followConfigs(configs: PrimaryConfigs): PrimaryFollower {
  let config: GatewayConfig = configs.current()
  const runtime = createRuntime({ start: config })
  runtime.prepare(config)
  configs.onAccepted((next) => {
    try {
      runtime.prepare(next)
      config = next
    } catch {
      // keep the last good one, as the workers do
    }
  })
  return { current: () => config, runtime }
}
