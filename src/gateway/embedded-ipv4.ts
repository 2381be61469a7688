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
  readonly ipv4: string
  readonly via: string
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
    if (at(4, 0) && at(5, 1)) {
      // Local-use NAT64 (RFC 8215): where the IPv4 sits depends on the operator's prefix
      // length; judge the /96 layout and, unless it is unused, the /48 one (RFC 6052 §2.2).
      const found = [{ ipv4: v4(b, LAST4), via: 'NAT64 64:ff9b:1::/48' }]
      if (!(zero(b, 6, 8) && zero(b, 9, 11))) found.push({ ipv4: v4(b, [6, 7, 9, 10]), via: 'NAT64 64:ff9b:1::/48' })
      return found
    }
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
