/**
 * An endpoint's upstream pools, one per origin, at most `max` of them. undici's Agent keeps a pool
 * per origin as long as it has a connection, however many origins: an endpoint with `{tenant}` in
 * its host, whose tenant a caller names, kept one (and its kept-alive connections) per tenant
 * named. Here a new origin closes the least recently used idle pool (no request running or
 * queued) and calls `onEvict`. While every pool is busy the new one is admitted (the requests in
 * flight, which the listener's connection caps bound, bound the pools then), and the cap holds
 * again as they finish. Once closed (every snapshot holding it retired, or the process done) a request that
 * reaches them is refused with 503, never dialled: before, a closing Agent threw undici's
 * ClientClosedError (a 500) and a closed one was replaced by a new pool nobody would close.
 */
import type { Agent } from 'undici'
import { GatewayError } from '../errors.js'
import { newAgent, undiciDispatcher, type Dispatcher } from './undici-agent.js'

/** What an upstream's pools hold at one moment. */
export interface UpstreamPool {
  connected: number
  /** Requests waiting for a connection (all `connections` of their origin busy). */
  waiting: number
  /** Origins holding a pool. */
  origins: number
  /** Closed (every snapshot holding it let go): a request that reaches it is refused, never dialled. */
  closed: boolean
}

/** The pools as one Dispatcher (Dispatcher.request, compose), with their counters. */
export interface OriginPools extends Dispatcher {
  counts(): UpstreamPool
}

type PoolStats = { connected: number | boolean; pending: number; running: number }
const statsOf = (agent: Agent): PoolStats[] => Object.values(agent.stats as unknown as Record<string, PoolStats>)

/** Closes the least recently used idle pools (the map's first entries) until at most `keep` remain or none is idle. */
function evictIdle(pools: Map<string, Agent>, keep: number, onEvict: () => void): void {
  for (const [origin, agent] of pools) {
    if (pools.size <= keep) return
    if (statsOf(agent).some((s) => s.running + s.pending > 0)) continue
    pools.delete(origin)
    void agent.close()
    onEvict()
  }
}

/** The Agent of each origin, least recently used first; `take` marks the origin the most recently used. */
function originAgents(options: Agent.Options, max: number, onEvict: () => void): { take(origin: string): Agent; agents: Map<string, Agent>; forget(): void } {
  const agents = new Map<string, Agent>() // least recently used first
  // The most recently used (the map's last): most endpoints have one origin, which then needs no reordering per request.
  let lastOrigin: string | undefined
  let lastAgent: Agent | undefined
  return {
    agents,
    take(origin) {
      if (origin === lastOrigin && lastAgent) return lastAgent
      let agent = agents.get(origin)
      if (agent) agents.delete(origin)
      else {
        evictIdle(agents, max - 1, onEvict)
        agent = newAgent(options)
      }
      agents.set(origin, agent)
      lastOrigin = origin
      lastAgent = agent
      return agent
    },
    forget: () => void (lastOrigin = lastAgent = undefined),
  }
}

/** One Agent per origin (each holds that origin's pool), built with `options`, at most `max` at once. */
export function newOriginPools(options: Agent.Options, max: number, onEvict: () => void, endpoint: string): OriginPools {
  const { take, agents: pools, forget } = originAgents(options, max, onEvict)
  // As undici's dispatchers say (a retired snapshot's pools are closed once their requests are done).
  let closed = false
  const each = (f: (agent: Agent) => Promise<void>): Promise<void> => {
    closed = true
    forget()
    return Promise.all([...pools.values()].map(f)).then(() => pools.clear())
  }
  // Own methods on a plain Dispatcher: request() and compose() call this.dispatch.
  const pooled = Object.assign(new (undiciDispatcher())(), {
    dispatch: (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
      // A request held in a slow step (a buffered body, a token call) past the retirement's 10-minute cap (ops/retire.ts).
      if (closed) throw new GatewayError('unavailable', `endpoint "${endpoint}": the config this request started under was retired by a reload before the request reached the upstream (a reload closes the old config's connections at most 10 minutes after it); nothing was sent: retry the request`)
      return take(String(opts.origin)).dispatch(opts, handler)
    },
    close: () => each((a) => a.close()),
    destroy: (...args: unknown[]) => each((a) => a.destroy(args[0] instanceof Error ? args[0] : null)),
    counts(): UpstreamPool {
      // undici's per-origin Pool (or Client) counters; read at scrape time, never per request.
      const pool: UpstreamPool = { connected: 0, waiting: 0, origins: pools.size, closed }
      for (const s of [...pools.values()].flatMap(statsOf)) {
        pool.connected += Number(s.connected) // a Client (connections: 1) says true or false
        pool.waiting += s.pending
      }
      return pool
    },
  })
  Object.defineProperty(pooled, 'closed', { get: () => closed })
  return pooled as unknown as OriginPools
}
