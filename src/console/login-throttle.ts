/**
 * The console's sign-in throttle, per source address: past `maxWrong` wrong tokens in a
 * minute from one address, that address waits, right token or wrong, while every other
 * address signs in as usual, so a flood from one client cannot lock operators out. The
 * address is the one the admin listener sees (a forwarded header would let a client pick
 * its own); IPv6 counts per /64, which one host can hold whole. The map is capped, the
 * address wrong least recently going first, so a flood from many addresses is bounded too.
 */
import { isIPv6 } from 'node:net'

const WINDOW_MS = 60_000

/** Wrong sign-ins counted per source address. */
export interface LoginThrottle {
  /** Whether `address` has used up its wrong tokens for the last minute. */
  throttled(address: string | undefined, now?: number): boolean
  /** Counts one wrong token from `address`. */
  wrong(address: string | undefined, now?: number): void
  /** Addresses remembered now (at most `maxAddresses`). */
  readonly size: number
}

/** Options: the wrong tokens allowed per address in a minute, and how many addresses are remembered. */
export interface LoginThrottleOptions {
  maxWrong: number
  maxAddresses: number
}

/** The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64. */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1] as string
  const bare = address.replace(/%.*$/, '')
  if (!isIPv6(bare)) return address
  // The URL parser writes any IPv6 form as hex groups (no dotted tail), '::' at most once.
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1)
  const missing = 8 - canonical.split(':').filter((g) => g !== '').length
  const groups = canonical.replace('::', `:${'0:'.repeat(missing)}`).replace(/^:|:$/g, '').split(':')
  return `${groups.slice(0, 4).join(':')}::/64`
}

/** Creates an empty throttle. */
export function createLoginThrottle(o: LoginThrottleOptions): LoginThrottle {
  // Insertion order is recency: a wrong token moves its address to the end, the first is evicted.
  const wrongAt = new Map<string, number[]>()
  const recent = (key: string, now: number): number[] => {
    const times = (wrongAt.get(key) ?? []).filter((t) => t > now - WINDOW_MS)
    if (times.length === 0) wrongAt.delete(key)
    return times
  }
  return {
    throttled: (address, now = Date.now()) => recent(sourceKey(address), now).length >= o.maxWrong,
    wrong: (address, now = Date.now()) => {
      const key = sourceKey(address)
      const times = recent(key, now)
      times.push(now)
      wrongAt.delete(key)
      wrongAt.set(key, times.slice(-o.maxWrong))
      for (const oldest of wrongAt.keys()) {
        if (wrongAt.size <= o.maxAddresses) break
        wrongAt.delete(oldest)
      }
    },
    get size() {
      return wrongAt.size
    },
  }
}
