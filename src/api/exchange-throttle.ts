/**
 * The failure throttle of `POST /gateway/token` (failure-throttle.ts, as for admin tokens): each
 * exchange takes a place for its source address before its assertion is read, and gives it back
 * when a bearer was issued or the gateway failed (5xx), so only the caller's own failures count.
 * Without it, one address could make the gateway check signatures (RS256) and decrypt JWEs (RSA)
 * of bogus assertions without end. Its limit is `callers.failedExchangesPerMinute`, read per
 * request: a reload to another limit counts on in the store with a fresh in-process count, as a
 * fresh start with that file would.
 */
import type { Store } from '../store/index.js'
import { createFailureThrottle, type Attempt, type FailureThrottle } from './failure-throttle.js'

// Far more addresses than callers; a flood from more evicts the least recent from the in-process count.
const MAX_THROTTLED_ADDRESSES = 10_000

/** An admitted exchange: `settle(failed)` once its outcome is known; a failed one stays counted. */
export type ExchangeAttempt = { readonly admitted: true; settle(failed: boolean): Promise<void> } | { readonly admitted: false; readonly retryAfterSec: number }

/** Admits token exchanges per source address under the limit in force. */
export interface ExchangeThrottle {
  admit(address: string | undefined, maxFailedPerMinute: number): Promise<ExchangeAttempt>
}

/** The throttle of one process, counting in `store()` when there is one (shared by workers and replicas), else here only. */
export function createExchangeThrottle(store: () => Store | undefined): ExchangeThrottle {
  let current: { max: number; throttle: FailureThrottle } | undefined
  return {
    async admit(address, max) {
      if (max === 0) return { admitted: true, settle: async () => undefined }
      if (current?.max !== max) current = { max, throttle: createFailureThrottle({ name: 'token-exchange', max, maxAddresses: MAX_THROTTLED_ADDRESSES, store }) }
      const attempt: Attempt = await current.throttle.admit(address)
      if (!attempt.admitted) return { admitted: false, retryAfterSec: attempt.retryAfterSec }
      return { admitted: true, settle: async (failed) => (failed ? undefined : attempt.release()) }
    },
  }
}
