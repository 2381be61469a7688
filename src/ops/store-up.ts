/**
 * `store_up`: whether the store answers a ping at scrape time. Registered only once a store is
 * watched: an unlabelled gauge always shows a value (0), and `store_up 0` on a gateway without
 * a store would page the store alert for nothing.
 */
import { Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'

/** The `watchStore` recorder: the first call registers `store_up` on `registers`, every call replaces the ping. */
export function createStoreWatch(registers: Registry[]): Metrics['watchStore'] {
  let storePing: (() => Promise<void>) | undefined
  let storeOpen: () => boolean = () => true
  const registerStoreUp = (): void => {
    const gauge = new Gauge({
      name: 'mtls_gateway_store_up',
      help: '1 when the store (SQLite or Redis) answers a ping at scrape time, 0 when it does not; absent without a store.',
      aggregator: 'min',
      registers,
      async collect() {
        if (storePing && storeOpen()) this.set((await pingWithin(storePing, 2000)) ? 1 : 0)
      },
    })
    // An unlabelled gauge always has a sample: drop it while no store is open.
    const read = gauge.get.bind(gauge)
    gauge.get = async () => {
      const m = await read()
      // Per scrape (not per request).
      return storeOpen() ? m : { ...m, values: [] }
    }
  }
  return (ping, isOpen) => {
    if (!storePing) registerStoreUp()
    storePing = ping
    storeOpen = isOpen ?? (() => true)
  }
}

/** True when `ping` resolves within `ms`. */
async function pingWithin(ping: () => Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([ping().then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}
