/**
 * The source address a failure throttle counts under. The address is the TCP peer the
 * listener sees (a forwarded header would let a client pick its own). IPv4 counts per
 * address, and so does an IPv6 address that carries one (however it is spelled): IPv4-mapped
 * (::ffff:0:0/96), NAT64 (64:ff9b::/96, every IPv4 client behind a NAT64 gateway) and the
 * deprecated IPv4-compatible ::a.b.c.d. A link-local peer (fe80::/10) is an on-link
 * neighbour, counted per address (its zone dropped). Any other IPv6 counts per /64, which
 * one host can hold whole and rotate through.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The eight hex groups of an IPv6 address, from the URL parser's canonical form. */
function ipv6Groups(address: string): string[] {
  // The URL parser writes any IPv6 spelling as hex groups (no dotted tail), '::' at most once.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  const missing = 8 - canonical.split(':').filter((g) => g !== '').length
  return canonical.replace('::', `:${'0:'.repeat(missing)}`).replace(/^:|:$/g, '').split(':')
}

/** The key an address is counted under: IPv4 (also carried in IPv6) as is, link-local whole, other IPv6 by its /64. */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  const bare = address.replace(/%.*$/, '')
  if (isIPv4(bare)) return bare
  if (!isIPv6(bare)) return address
  const groups = ipv6Groups(bare).map((g) => parseInt(g, 16))
  const v4 = carriedIPv4(groups)
  if (v4 !== undefined) return v4
  const hex = groups.map((g) => g.toString(16))
  if (((groups[0] as number) & 0xffc0) === 0xfe80) return hex.join(':')
  return `${hex.slice(0, 4).join(':')}::/64`
}

/** The IPv4 address an IPv6 address carries in its last 32 bits (mapped, NAT64, compatible), if any. */
function carriedIPv4(g: readonly number[]): string | undefined {
  const [hi, lo] = [g[6] as number, g[7] as number]
  const head = g.slice(0, 6).join(':')
  const mapped = head === '0:0:0:0:0:65535'
  const nat64 = head === '100:65435:0:0:0:0'
  // ::a.b.c.d, but never :: (unspecified) or ::1 (loopback), which share that prefix.
  const compatible = head === '0:0:0:0:0:0' && (hi !== 0 || lo > 1)
  return mapped || nat64 || compatible ? `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}` : undefined
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
  if (/^fe[89ab][0-9a-f](?::[0-9a-f]{1,4}){7}$/.test(key)) return `v6ll_${key.replaceAll(':', '-')}`
  // UTF-16 code units, not UTF-8: a lone surrogate must not collapse into another key's bytes.
  return `x_${Buffer.from(key, 'utf16le').toString('hex')}`
}
