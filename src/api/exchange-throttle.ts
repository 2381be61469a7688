/**
 * The failure throttle of `POST /gateway/token` (settled-throttle.ts, as for admin tokens): an
 * exchange is admitted before its assertion is read unless its source address's settled failed
 * exchanges reached the limit; one that issued no bearer for the caller's own fault (4xx) counts
 * as failed once it settles, one that issued a bearer or failed in the gateway (5xx) does not.
 * Exchanges in flight are never counted as failures: past `max` of them at once from one address,
 * the next wait for one to settle (so parallel bogus assertions are still verified `max` at a
 * time). Without it, one address could make the gateway check signatures (RS256) and decrypt
 * JWEs (RSA) of bogus assertions without end. Its limit is `callers.failedExchangesPerMinute`,
 * read per request: a reload to another limit counts on in the store with a fresh in-process
 * count, as a fresh start with that file would.
 */
import type { Store } from '../store/index.js'
import { createSettledThrottle, type Admission, type SettledThrottle } from './settled-throttle.js'

// Far more addresses than callers; a flood from more evicts the least recent from the in-process count.
const MAX_THROTTLED_ADDRESSES = 10_000
const UNTHROTTLED: Admission = { admitted: true, key: '', settle: async () => undefined }

/** Admits token exchanges per source address under the limit in force. */
export interface ExchangeThrottle {
  admit(address: string | undefined, maxFailedPerMinute: number, gone?: AbortSignal): Promise<Admission>
}

/** The throttle of one process, counting in `store()` when there is one (shared by workers and replicas), else here only. */
export function createExchangeThrottle(store: () => Store | undefined): ExchangeThrottle {
  let current: { max: number; throttle: SettledThrottle } | undefined
  return {
    async admit(address, max, gone) {
      if (max === 0) return UNTHROTTLED
      if (current?.max !== max) current = { max, throttle: createSettledThrottle({ name: 'token-exchange', max, maxAddresses: MAX_THROTTLED_ADDRESSES, store }) }
      return current.throttle.admit(address, gone)
    },
  }
}
