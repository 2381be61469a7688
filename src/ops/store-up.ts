/**
 * `store_up`: whether the store answers a ping at scrape time, `store_eviction_allowed`:
 * whether its Redis may evict the gateway's keys (`maxmemory-policy`), and
 * `store_failover_watch_sentinels`: the Sentinels whose failovers it follows or that refuse it. Registered only once a
 * store is watched: an unlabelled gauge always shows a value (0), and `store_up 0` on a gateway
 * without a store would page the store alert for nothing.
 */
import { Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'
import { CHECK_BUDGET_MS } from './answer-budget.js'

/** The `watchStore` recorder: the first call registers the gauges on `registers`, every call replaces the readings. */
export function createStoreWatch(registers: Registry[]): Metrics['watchStore'] {
  let storePing: (() => Promise<void>) | undefined
  let storeOpen: () => boolean = () => true
  let evictionRisk: () => Promise<string | undefined> = () => Promise.reject(new Error('not watched'))
  let failoverWatch: () => { following: number; refused: number } | undefined = () => undefined
  const registerStoreGauges = (): void => {
    const up = new Gauge({
      name: 'mtls_gateway_store_up',
      help: '1 when the store (SQLite or Redis) answers a ping at scrape time, 0 when it does not; absent without a store.',
      aggregator: 'min',
      registers,
      async collect() {
        if (storePing && storeOpen()) this.set((await within(storePing().then(() => true, () => false), CHECK_BUDGET_MS)) ? 1 : 0)
      },
    })
    dropWhile(up, () => !storeOpen())
    registerEvictionGauge(registers, () => (storeOpen() ? evictionRisk() : undefined))
    registerFailoverWatchGauge(registers, () => (storeOpen() ? failoverWatch() : undefined))
  }
  return (ping, isOpen, risk, sentinels) => {
    if (!storePing) registerStoreGauges()
    storePing = ping
    storeOpen = isOpen ?? (() => true)
    if (risk) evictionRisk = risk
    if (sentinels) failoverWatch = sentinels
  }
}

/** `store_eviction_allowed` from `read` at each scrape (undefined: no store open); no sample while the reading fails or is late. */
function registerEvictionGauge(registers: Registry[], read: () => Promise<string | undefined> | undefined): void {
  // Read per scrape, from every primary: a failover may reach one of another policy.
  let allowed: boolean | undefined
  const eviction = new Gauge({
    name: 'mtls_gateway_store_eviction_allowed',
    help: "1 when a primary of the store's Redis has a maxmemory-policy other than noeviction (it may silently evict bearers, jti replay entries, throttle counters), 0 when none has; absent without Redis or while it cannot be read.",
    aggregator: 'max',
    registers,
    async collect() {
      allowed = undefined
      const reading = read()
      if (reading === undefined) return
      const risk = await within(reading.then((r) => r !== undefined, () => undefined), CHECK_BUDGET_MS)
      // Unknown (not answering, no `info`, not Redis): no sample, rather than a reassuring 0.
      allowed = risk
      if (risk !== undefined) this.set(risk ? 1 : 0)
    },
  })
  dropWhile(eviction, () => allowed === undefined)
}

/** `store_failover_watch_sentinels{state}` from `read` at each scrape; no series while it says none (no Sentinel). */
function registerFailoverWatchGauge(registers: Registry[], read: () => { following: number; refused: number } | undefined): void {
  // Per process: the --workers primary sums the workers' (each follows every Sentinel), like connections_open.
  new Gauge({
    name: 'mtls_gateway_store_failover_watch_sentinels',
    help: "Redis Sentinels whose +switch-master the store's failover watch follows (state=following) and that refuse its subscription (state=refused: their failovers are followed only once the old primary is demoted); absent without Sentinel.",
    labelNames: ['state'] as const,
    aggregator: 'sum',
    registers,
    collect() {
      this.reset()
      const counts = read()
      if (counts) for (const state of ['following', 'refused'] as const) this.set({ state }, counts[state])
    },
  })
}

/** An unlabelled gauge always has a sample: drop it while `absent` says so (per scrape, after collect). */
function dropWhile(gauge: Gauge, absent: () => boolean): void {
  const read = gauge.get.bind(gauge)
  gauge.get = async () => {
    const m = await read()
    // Per scrape (not per request).
    return absent() ? { ...m, values: [] } : m
  }
}

/** What `p` settles to within `ms`: false for the ping, undefined (unknown) for a reading, when it does not. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
