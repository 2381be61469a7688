/**
 * The console's host in each process shape: the single process lends its live snapshot
 * and runtime; the cluster primary (which serves admin but no traffic) loads the config
 * itself, opens the store, and compiles a snapshot only while a page needs one.
 */
import { loadConfig, type GatewayConfig } from '../config/index.js'
import { createConsole } from '../console/index.js'
import { compileGateway } from '../gateway/index.js'
import type { AdminRoutesFactory } from '../ops/index.js'
import type { GatewayRef } from '../proxy/listener.js'
import { createRuntime, type Runtime } from '../runtime/index.js'

/** The console over a running single-process gateway. */
export function singleProcessConsole(ref: GatewayRef, runtime: Runtime): AdminRoutesFactory {
  return (facts) =>
    createConsole({
      configFile: ref.current.config.file,
      facts,
      config: () => ref.current.config,
      withGateway: (fn) => fn(ref.current),
      runtime,
    })
}

/** The console in a cluster primary; the store it opens lives as long as the process. */
export function primaryConsole(configFile: string): AdminRoutesFactory {
  return (facts) => {
    let config: GatewayConfig = loadConfig(configFile)
    let seen = facts.loadedAt()
    // Opens the store as a worker's runtime does, and refuses the same restart-only changes.
    const runtime = createRuntime({ start: config })
    runtime.prepare(config)
    // The primary's config follows its own successful loads (reloads it relays to the workers).
    const current = (): GatewayConfig => {
      if (facts.loadedAt() !== seen) {
        seen = facts.loadedAt()
        try {
          const next = loadConfig(configFile)
          runtime.prepare(next)
          config = next
        } catch {
          // keep the last good one, as the workers do
        }
      }
      return config
    }
    return createConsole({
      configFile: config.file,
      facts,
      config: current,
      withGateway: async (fn) => {
        const gateway = compileGateway(current())
        try {
          return await fn(gateway)
        } finally {
          await gateway.close()
        }
      },
      runtime,
    })
  }
}
