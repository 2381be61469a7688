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

/** Running gateways: the URL of the i-th (round robin), and `shorten` to bring another anonymousTtl into force on each. */
export interface TtlChangeGateways {
  at(i: number): string
  shorten(anonymousTtl: string): Promise<void>
  stopAll(): Promise<void>
}

/** Starts `topology`'s gateways on the config `write(anonymousTtl)` writes (and returns the file of), here under `initial`. */
export async function ttlChangeGateways(gateways: GatewaySet, topology: { replicas: number; reload: boolean }, write: (anonymousTtl: string) => string, initial: string): Promise<TtlChangeGateways> {
  const { replicas, reload } = topology
  const gws: GatewayProcess[] = []
  for (let i = 0; i < replicas; i++) gws.push(await gateways.start(write(initial), ['--workers', reload ? '2' : '1']))
  return {
    at: (i) => (gws[i % gws.length] as GatewayProcess).url,
    async shorten(anonymousTtl) {
      const file = write(anonymousTtl)
      for (let i = 0; i < gws.length; i++) {
        const g = gws[i] as GatewayProcess
        if (reload) {
          const from = g.output.length
          g.child.kill('SIGHUP')
          await eventually(() => new Set(g.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 60_000, 'both workers to reload')
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
