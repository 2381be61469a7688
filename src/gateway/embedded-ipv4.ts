/**
 * IPv4 addresses carried inside IPv6 addresses. A dial to one of these can reach the IPv4
 * address (through a NAT64 gateway, a 6to4 or Teredo relay, or the host's own dual stack),
 * so the egress policy judges them by the IPv4 rules.
 */
/** The 16 bytes of a valid IPv6 address (the caller checked it with isIP). */
export function ipv6Bytes(address: string): Uint8Array {
  const bytes = new Uint8Array(16)
  let text = address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) text = `${text.slice(0, dotted.index)}0:0`
  const [left = '', right] = text.split('::')
  const head = left === '' ? [] : left.split(':')
  const tail = right === undefined || right === '' ? [] : right.split(':')
  const groups = right === undefined ? head : [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail]
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    bytes[i * 2] = v >> 8
    bytes[i * 2 + 1] = v & 0xff
  })
  if (dotted) for (let i = 0; i < 4; i++) bytes[12 + i] = Number(dotted[i + 1])
  return bytes
}

function v4(b: Uint8Array, at: readonly number[], invert = false): string {
  return at.map((i) => ((b[i] as number) ^ (invert ? 0xff : 0)).toString()).join('.')
}

function zero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false
  return true
}

const LAST4 = [12, 13, 14, 15]

/** One wrapped IPv4 address and the wrapping that carries it. */
export interface Embedded {
  /** Undefined when the wrapping cannot say where the IPv4 address sits (`via` says why). */
  readonly ipv4?: string
  readonly via: string
}

const LOCAL_USE = 'local-use NAT64 64:ff9b:1::/48'
/**
 * RFC 6052 §2.2's layouts for a NAT64 prefix of /48 or longer, the ones a prefix inside the
 * local-use /48 (RFC 8215) can have: where the IPv4 address sits, and where the suffix after it
 * (zero) starts. Bits 64-71 (byte 8) are zero in every layout.
 */
const LOCAL_USE_LAYOUTS = [
  { length: 48, at: [6, 7, 9, 10], suffix: 11 },
  { length: 56, at: [7, 9, 10, 11], suffix: 12 },
  { length: 64, at: [9, 10, 11, 12], suffix: 13 },
  { length: 96, at: LAST4, suffix: 16 },
] as const

/**
 * The IPv4 addresses a local-use NAT64 address may carry. The operator's prefix length is not in
 * the address, so every layout it fits (bits 64-71 and the suffix zero) is read: a dial is judged
 * by each of them, and none that fits can slip by. The /96 reading is left out when the /56
 * layout fits: it is then 0.0.0.0, that layout's zero suffix, not an address (so a /48 or /56
 * prefix works). Bits 64-71 not zero: no layout fits, the IPv4 cannot be located.
 */
function localUseNat64(b: Uint8Array): Embedded[] {
  if (b[8] !== 0) return [{ via: `${LOCAL_USE}, where no RFC 6052 layout locates an IPv4 address: bits 64-71 are not zero` }]
  const fits = LOCAL_USE_LAYOUTS.filter((l) => zero(b, l.suffix, 16))
  return fits.filter((l) => l.length !== 96 || !zero(b, 12, 16)).map((l) => ({ ipv4: v4(b, l.at), via: `${LOCAL_USE}, its /${l.length} layout` }))
}

/** Every IPv4 address the IPv6 address may lead to (empty for a plain IPv6 address). */
export function embeddedIpv4(address: string): Embedded[] {
  const b = ipv6Bytes(address)
  const at = (i: number, v: number): boolean => b[i] === v
  if (zero(b, 0, 10) && at(10, 0xff) && at(11, 0xff)) return [{ ipv4: v4(b, LAST4), via: 'IPv4-mapped ::ffff:0:0/96' }]
  if (zero(b, 0, 8) && at(8, 0xff) && at(9, 0xff) && zero(b, 10, 12)) return [{ ipv4: v4(b, LAST4), via: 'IPv4-translated ::ffff:0:0:0/96' }]
  // IPv4-compatible (deprecated); :: and ::1 are IPv6's own unspecified and loopback.
  if (zero(b, 0, 12) && !(zero(b, 12, 15) && (b[15] as number) <= 1)) return [{ ipv4: v4(b, LAST4), via: 'IPv4-compatible ::/96' }]
  if (at(0, 0) && at(1, 0x64) && at(2, 0xff) && at(3, 0x9b)) {
    if (zero(b, 4, 12)) return [{ ipv4: v4(b, LAST4), via: 'NAT64 64:ff9b::/96' }]
    if (at(4, 0) && at(5, 1)) return localUseNat64(b)
  }
  if (at(0, 0x20) && at(1, 0x02)) return [{ ipv4: v4(b, [2, 3, 4, 5]), via: '6to4 2002::/16' }]
  if (at(0, 0x20) && at(1, 0x01) && zero(b, 2, 4)) {
    return [
      { ipv4: v4(b, LAST4, true), via: 'Teredo 2001::/32 (client)' },
      { ipv4: v4(b, [4, 5, 6, 7]), via: 'Teredo 2001::/32 (server)' },
    ]
  }
  return []
}
