/**
 * Gateways on one store whose callers.anonymousTtl a test shortens while they run: `serve --workers 2`
 * on SQLite, reloaded (SIGHUP), or two replicas on Redis, restarted in turn (a rolling restart).
 */
import { eventually } from './eventually.js'
import type { GatewayProcess, GatewaySet } from './process.js'

/** The two ways a shortened anonymousTtl comes into force. */
export const TTL_CHANGE_TOPOLOGIES = [
  { name: 'sqlite, --workers 2, reloaded', replicas: 1, reload: true },
  { name: 'redis, two replicas, restarted in turn', replicas: 2, reload: false },
] as const

/**
 * What `write` adds to its config's endpoint list so that the file has `endpoints` endpoints in all,
 * the first being its own (`partner`): spares never called, each with `tls` (a client TLS mapping).
 */
export function spareEndpointsYaml(endpoints: number, tls: string): string {
  return Array.from({ length: endpoints - 1 }, (_, i) => `  - { name: spare${i}, url: "https://spare${i}.test", tls: ${tls} }\n`).join('')
}

/** Running gateways: the URL of the i-th (round robin), and `shorten` to bring another anonymousTtl into force on each. */
export interface TtlChangeGateways {
  at(i: number): string
  shorten(anonymousTtl: string): Promise<void>
  stopAll(): Promise<void>
}

/**
 * Starts `topology`'s gateways on the config `write(anonymousTtl, endpoints)` writes (and returns the
 * file of), here under `initial`. Its `endpoints` endpoints in all (spareEndpointsYaml) tell the
 * reloads apart: each shorten's file has one more.
 */
export async function ttlChangeGateways(gateways: GatewaySet, topology: { replicas: number; reload: boolean }, write: (anonymousTtl: string, endpoints: number) => string, initial: string): Promise<TtlChangeGateways> {
  const { replicas, reload } = topology
  const gws: GatewayProcess[] = []
  let endpoints = 1
  for (let i = 0; i < replicas; i++) gws.push(await gateways.start(write(initial, endpoints), ['--workers', reload ? '2' : '1']))
  return {
    at: (i) => (gws[i % gws.length] as GatewayProcess).url,
    async shorten(anonymousTtl) {
      const file = write(anonymousTtl, ++endpoints)
      for (let i = 0; i < gws.length; i++) {
        const g = gws[i] as GatewayProcess
        if (reload) {
          g.child.kill('SIGHUP')
          // Each worker's reload of this file, known by its endpoint count, whatever triggered it: one write
          // and its SIGHUP can make two reloads (the directory watcher's too), the second's lines out after
          // the next write, where any 'config reloaded' line would have ended this wait with the old file in force.
          await eventually(() => new Set(g.logEntries().filter((e) => e.msg === 'config reloaded' && e.endpoints === endpoints).map((e) => e.pid)).size === 2, 60_000, 'both workers to reload this file')
        } else {
          await gateways.stop(g)
          gws[i] = await gateways.start(file, ['--workers', '1'])
        }
      }
    },
    stopAll: async () => {
      for (const g of gws) await gateways.stop(g)
    },
  }
}
