/**
 * What the admin listener asks of the store: its ping (`store_up`, /readyz) and whether its Redis
 * may evict the gateway's keys (`store_eviction_allowed`, a /readyz note). The store may open on a
 * later reload (callers added): each asks the runtime at the time, and a gateway that needs no
 * store has nothing unreachable.
 */
import { CHECK_BUDGET_MS, type ReadinessProbe } from '../ops/index.js'
import type { GatewayRef } from '../proxy/listener.js'
import type { Runtime } from '../runtime/index.js'

/** Below a probe's budget: a policy not read by then is no note (the budget's own timeout would be one). */
const EVICTION_PROBE_MS = CHECK_BUDGET_MS * 0.75

/** The store's ping and eviction reading, and the readiness probes made of them. */
export interface StoreProbes {
  ping(): Promise<void>
  /** Throws when it cannot tell (no Redis, or not read now): the gauge is then absent. */
  evictionRisk(): Promise<string | undefined>
  /** The Sentinel failover watch's counts; undefined without one (no store, or not Redis Sentinel). */
  failoverWatch(): { following: number; refused: number } | undefined
  probes: ReadinessProbe[]
}

export function storeProbes(runtime: Runtime, ref: GatewayRef): StoreProbes {
  const ping = async (): Promise<void> => runtime.store?.ping()
  // A shared Redis down would make every pod unready at once (store.redis.gateReadiness); a SQLite file is the pod's own.
  const gates = (): boolean => {
    const store = ref.current.config.store
    return store.kind !== 'redis' || store.redis.gateReadiness
  }
  const evictionRisk = async (): Promise<string | undefined> => {
    const store = runtime.store
    if (!store?.evictionRisk) throw new Error('the store cannot evict')
    return store.evictionRisk()
  }
  // A note, never unready (the store answers); only a policy read says anything: a Redis away is the ping's to note.
  const evictionNote = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined
    const unread = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), EVICTION_PROBE_MS)))
    const risk = await Promise.race([evictionRisk().catch(() => undefined), unread]).finally(() => clearTimeout(timer))
    if (risk !== undefined) throw new Error(risk)
  }
  // A note: the store answers; only a Sentinel failover would be followed late.
  const followNote = async (): Promise<void> => {
    const problem = runtime.store?.failoverWatch?.()?.problem
    if (problem !== undefined) throw new Error(problem)
  }
  return {
    ping,
    evictionRisk,
    failoverWatch: () => runtime.store?.failoverWatch?.(),
    probes: [{ name: 'store', check: ping, gates }, { name: 'store memory policy', check: evictionNote, gates: () => false }, { name: 'store failover watch', check: followNote, gates: () => false }],
  }
}
