/**
 * The source address a failure throttle counts under. The address is the TCP peer the
 * listener sees (a forwarded header would let a client pick its own). IPv4 counts per
 * address, an IPv4-mapped IPv6 address as its IPv4 (however it is spelled), and IPv6 per
 * /64, which one host can hold whole and rotate through.
 */
import { isIPv4, isIPv6 } from 'node:net'

const MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/

/** The eight groups of an IPv6 address in the URL parser's canonical form (hex, lower case). */
function ipv6Groups(address: string): { canonical: string; groups: string[] } {
  // The URL parser writes any IPv6 spelling as hex groups (no dotted tail), '::' at most once.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  const missing = 8 - canonical.split(':').filter((g) => g !== '').length
  const groups = canonical.replace('::', `:${'0:'.repeat(missing)}`).replace(/^:|:$/g, '').split(':')
  return { canonical, groups }
}

/** The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64. */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  const bare = address.replace(/%.*$/, '')
  if (isIPv4(bare)) return bare
  if (!isIPv6(bare)) return address
  const { canonical, groups } = ipv6Groups(bare)
  const mapped = MAPPED.exec(canonical)
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1] as string, 16), parseInt(mapped[2] as string, 16)]
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return `${groups.slice(0, 4).join(':')}::/64`
}

/**
 * A source key as one segment of a store key: only [a-z0-9._-], so no ':' (the store's
 * segment separator, which IPv6 is full of), no Redis Cluster hash-tag brace and no glob
 * character can come from an address. Distinct keys give distinct segments.
 */
export function storeSegment(key: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(key)) return `v4_${key}`
  const v6 = /^((?:[0-9a-f]{1,4}:){3}[0-9a-f]{1,4})::\/64$/.exec(key)
  if (v6) return `v6_${(v6[1] as string).replaceAll(':', '-')}`
  // UTF-16 code units, not UTF-8: a lone surrogate must not collapse into another key's bytes.
  return `x_${Buffer.from(key, 'utf16le').toString('hex')}`
}
