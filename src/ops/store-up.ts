/**
 * `store_up`: whether the store answers a ping at scrape time, and `store_eviction_allowed`:
 * whether its Redis may evict the gateway's keys (`maxmemory-policy`). Registered only once a
 * store is watched: an unlabelled gauge always shows a value (0), and `store_up 0` on a gateway
 * without a store would page the store alert for nothing.
 */
import { Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'

/** The `watchStore` recorder: the first call registers the gauges on `registers`, every call replaces the readings. */
export function createStoreWatch(registers: Registry[]): Metrics['watchStore'] {
  let storePing: (() => Promise<void>) | undefined
  let storeOpen: () => boolean = () => true
  let evictionRisk: () => Promise<string | undefined> = () => Promise.reject(new Error('not watched'))
  const registerStoreGauges = (): void => {
    const up = new Gauge({
      name: 'mtls_gateway_store_up',
      help: '1 when the store (SQLite or Redis) answers a ping at scrape time, 0 when it does not; absent without a store.',
      aggregator: 'min',
      registers,
      async collect() {
        if (storePing && storeOpen()) this.set((await within(storePing().then(() => true, () => false), 2000)) ? 1 : 0)
      },
    })
    dropWhile(up, () => !storeOpen())
    // Read per scrape, from every primary: a failover may reach one of another policy.
    let allowed: boolean | undefined
    const eviction = new Gauge({
      name: 'mtls_gateway_store_eviction_allowed',
      help: "1 when a primary of the store's Redis has a maxmemory-policy other than noeviction (it may silently evict bearers, jti replay entries, throttle counters), 0 when none has; absent without Redis or while it cannot be read.",
      aggregator: 'max',
      registers,
      async collect() {
        allowed = undefined
        if (!storeOpen()) return
        const risk = await within(evictionRisk().then((r) => r !== undefined, () => undefined), 2000)
        // Unknown (not answering, no `info`, not Redis): no sample, rather than a reassuring 0.
        allowed = risk
        if (risk !== undefined) this.set(risk ? 1 : 0)
      },
    })
    dropWhile(eviction, () => allowed === undefined)
  }
  return (ping, isOpen, risk) => {
    if (!storePing) registerStoreGauges()
    storePing = ping
    storeOpen = isOpen ?? (() => true)
    if (risk) evictionRisk = risk
  }
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
