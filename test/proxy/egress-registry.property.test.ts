/**
 * The egress policy refuses every address the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries list as not globally reachable, under its reason, and lets the rest of the address
 * space through. The registries are transcribed below, independently of src/ (first matching row
 * wins, as the gateway's order does); addresses are generated inside each row, and outside every
 * row (public IPv4, 2000::/3, and the special blocks the registries list as globally reachable).
 * classifyAddress is checked on thousands; a sample goes through the real dial path of a compiled
 * gateway in a loopback-only network namespace (the addresses are generated, so a dial to one
 * that is let through fails on this machine and never leaves it): refused ones are the 403 naming
 * the address and reason, the others are dialled (and unreachable there), never refused. The
 * documentation blocks (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 3fff::/20), the deprecated
 * 6to4 relay anycast 192.88.99.0/24, 100::/64, 100:0:0:1::/64, 2001::/23 (benchmarking 2001:2::/48,
 * ORCHID 2001:10::/28, …) and 5f00::/16 were let through. A local-use NAT64 address
 * (64:ff9b:1::/48, RFC 8215) is judged by the IPv4 each RFC 6052 layout it fits reads (the
 * operator's prefix length is not in the address), checked against the layouts written out again
 * bit by bit; one no layout fits is refused. It was refused whatever it carried, so an IPv6-only
 * cluster reaching public backends through its own NAT64 needed allowPrivate, which opens private
 * destinations too; before that, a /64 layout carrying 10.0.0.1 was let through. A name that
 * rebinds from a public answer to loopback is refused at its second dial. IPv6 outside 2000::/3 that no row names (4000::/3, 1000::/4, …, the
 * IANA IPv6 Address Space registry's unallocated space) was let through. The refusal read "a
 * unspecified address".
 */
import { BlockList } from 'node:net'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { classifyAddress, EgressDeniedError, type EgressReason } from '../../src/gateway/index.js'
import { useInterceptionHarness } from '../support/netns.js'

type Family = 'ipv4' | 'ipv6'
interface Row { cidr: string; reason: EgressReason }

/** First match wins: the cloud metadata addresses inside link-local and unique-local, then the registries' rows. */
const REFUSED: readonly Row[] = [
  ...['169.254.169.254/32', '169.254.170.2/32', '100.100.100.200/32', '168.63.129.16/32', 'fd00:ec2::254/128'].map((cidr) => ({ cidr, reason: 'metadata' as const })),
  // IPv4 Special-Purpose Address Registry (RFC 6890 and its updates), Globally Reachable: False.
  { cidr: '0.0.0.0/8', reason: 'unspecified' },
  { cidr: '10.0.0.0/8', reason: 'private' },
  { cidr: '100.64.0.0/10', reason: 'cgnat' },
  { cidr: '127.0.0.0/8', reason: 'loopback' },
  { cidr: '169.254.0.0/16', reason: 'link_local' },
  { cidr: '172.16.0.0/12', reason: 'private' },
  { cidr: '192.0.0.0/24', reason: 'reserved' },
  { cidr: '192.0.2.0/24', reason: 'reserved' },
  { cidr: '192.88.99.0/24', reason: 'reserved' },
  { cidr: '192.168.0.0/16', reason: 'private' },
  { cidr: '198.18.0.0/15', reason: 'reserved' },
  { cidr: '198.51.100.0/24', reason: 'reserved' },
  { cidr: '203.0.113.0/24', reason: 'reserved' },
  { cidr: '255.255.255.255/32', reason: 'multicast' },
  { cidr: '240.0.0.0/4', reason: 'reserved' },
  { cidr: '224.0.0.0/4', reason: 'multicast' },
  // IPv6 Special-Purpose Address Registry, Globally Reachable: False (2001::/23 less its global blocks: GLOBAL_SPECIAL).
  { cidr: '::1/128', reason: 'loopback' },
  { cidr: '::/128', reason: 'unspecified' },
  { cidr: '100::/64', reason: 'reserved' },
  { cidr: '100:0:0:1::/64', reason: 'reserved' },
  { cidr: '2001:2::/48', reason: 'reserved' },
  { cidr: '2001:10::/28', reason: 'reserved' },
  { cidr: '2001::/23', reason: 'reserved' },
  { cidr: '2001:db8::/32', reason: 'reserved' },
  { cidr: '3fff::/20', reason: 'reserved' },
  { cidr: '5f00::/16', reason: 'reserved' },
  { cidr: 'fc00::/7', reason: 'private' },
  { cidr: 'fe80::/10', reason: 'link_local' },
  { cidr: 'fec0::/10', reason: 'private' },
  { cidr: 'ff00::/8', reason: 'multicast' },
  // IANA IPv6 Address Space registry: only 2000::/3 is global unicast; the rest, special rows and wrappers aside, is reserved or unassigned.
  ...['::/8', '100::/8', '200::/7', '400::/6', '800::/5', '1000::/4', '4000::/3', '6000::/3', '8000::/3', 'a000::/3', 'c000::/3', 'e000::/4', 'f000::/5', 'f800::/6', 'fe00::/9'].map((cidr) => ({ cidr, reason: 'reserved' as const })),
]

/** The refusal's words for each reason, article included. */
const REFUSED_AS: Record<EgressReason, string> = {
  loopback: 'a loopback', private: 'a private', link_local: 'a link-local', cgnat: 'a cgnat', metadata: 'a metadata',
  unspecified: 'an unspecified', multicast: 'a multicast', reserved: 'a reserved',
}

/**
 * Special blocks the registries list as globally reachable (Teredo, 2001::/32, is judged by the IPv4 inside: egress-ipv6.test.ts).
 * Not the PCP, TURN and DNS-SD SRP anycast addresses (192.0.0.9, 192.0.0.10, 2001:1::1-3): the gateway refuses those on
 * purpose (the nearest instance, usually inside this network, answers), so their rows' refusal stands.
 */
const GLOBAL_SPECIAL = ['192.31.196.0/24', '192.52.193.0/24', '192.175.48.0/24', '2001:3::/32', '2001:4:112::/48', '2001:20::/28', '2001:30::/28', '2620:4f:8000::/48']
/** Judged by the IPv4 address inside, or not generated as public for that reason. */
const WRAPPERS = ['2001::/32', '2002::/16', '64:ff9b::/96', '64:ff9b:1::/48', '::ffff:0:0/96', '::ffff:0:0:0/96', '::/96']

const familyOf = (cidr: string): Family => (cidr.includes(':') ? 'ipv6' : 'ipv4')
const bitsOf = (f: Family): number => (f === 'ipv4' ? 32 : 128)
function listOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [net = '', bits = ''] = cidr.split('/')
    list.addSubnet(net, Number(bits), familyOf(cidr))
  }
  return list
}
const ROW_LISTS = REFUSED.map((row) => ({ row, list: listOf([row.cidr]) }))
const globalSpecial = listOf(GLOBAL_SPECIAL)
const wrapperList = listOf(WRAPPERS)
/** Inside a wrapper of IPv4 (:: and ::1, IPv6's own unspecified and loopback, aside). */
const wrapped = (address: string, f: Family): boolean => wrapperList.check(address, f) && !(f === 'ipv6' && base(address, f) <= 1n)

/** The registries' verdict on `address`: the first row that holds it, unless a globally reachable block does. */
function expected(address: string, f: Family): EgressReason | undefined {
  if (globalSpecial.check(address, f)) return undefined
  // Rows of the address's own family: BlockList matches an IPv4 address against IPv6 rows as ::ffff:a.b.c.d.
  return ROW_LISTS.find(({ row, list }) => familyOf(row.cidr) === f && list.check(address, f))?.row.reason
}

function text(value: bigint, f: Family): string {
  if (f === 'ipv4') return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.')
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')
}
function base(address: string, f: Family): bigint {
  if (f === 'ipv4') return address.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n)
  const [head = '', tail = ''] = address.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  return groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n)
}

/** Any address inside `cidr`. */
const inside = (cidr: string): fc.Arbitrary<string> => {
  const [net = '', len = ''] = cidr.split('/')
  const f = familyOf(cidr)
  const hostBits = BigInt(bitsOf(f) - Number(len))
  const start = base(net, f)
  return fc.bigInt({ min: 0n, max: (1n << hostBits) - 1n }).map((host) => text(start + host, f))
}

/** An address of a row, with the registries' verdict on it (a row's later, more specific or global block may take it). */
const refusedAddress = fc.constantFrom(...REFUSED).chain((row) => inside(row.cidr)).map((address) => ({ address, reason: expected(address, familyOf(address)) }))
  .filter((c) => c.reason !== undefined && !wrapped(c.address, familyOf(c.address)))
/** A public address: IPv4, or 2000::/3, outside every row and wrapper, or inside a globally reachable special block. */
const publicAddress = fc.oneof(
  inside('0.0.0.0/0'),
  inside('2000::/3'),
  fc.constantFrom(...GLOBAL_SPECIAL).chain(inside),
).filter((address) => expected(address, familyOf(address)) === undefined && !wrapped(address, familyOf(address)))

describe('classifyAddress against the special-purpose registries', () => {
  it('refuses every address a row holds, under its reason', () => {
    fc.assert(fc.property(refusedAddress, ({ address, reason }) => {
      expect(classifyAddress(address), address).toBe(reason)
    }), { seed: 0x1a7a, numRuns: 5000 })
  })

  it('lets public addresses through, and the globally reachable special blocks', () => {
    fc.assert(fc.property(publicAddress, (address) => {
      expect(classifyAddress(address), address).toBeUndefined()
    }), { seed: 0x9b1c, numRuns: 5000 })
  })

  it('the refusal names the reason with the article its word takes', () => {
    for (const [reason, words] of Object.entries(REFUSED_AS)) {
      expect(new EgressDeniedError('h.test', '0.0.0.1', reason as EgressReason).message).toContain(`resolves to 0.0.0.1, ${words} address;`)
    }
  })

  it('a local-use NAT64 address (64:ff9b:1::/48) is judged by the IPv4 every RFC 6052 layout it fits reads, and refused when none fits', () => {
    const seen = { allowed: 0, refused: 0 }
    fc.assert(fc.property(localUseAddress, ({ address }) => {
      const verdict = localUseVerdict(address)
      const got = classifyAddress(address)
      if (verdict.length === 0) return void (seen.allowed++, expect(got, address).toBeUndefined())
      seen.refused++
      expect(verdict, address).toContain(got)
    }), { seed: 0x64ff, numRuns: 5000 })
    // Not an empty property: public destinations through the operator's translator pass, others are refused.
    expect(seen.allowed).toBeGreaterThan(500)
    expect(seen.refused).toBeGreaterThan(500)
  })

  it('an IPv4 a layout carries is never let through when refused; a public one in the common /96 layout always is (an IPv6-only cluster needs no allowPrivate)', () => {
    fc.assert(fc.property(localUseAddress, ({ address, ipv4, length, operatorBits }) => {
      // Any address of the /48, not built in a layout; and 0.0.0.0 in the /96 layout, read as a shorter layout's zero suffix.
      if (length === 0 || (length === 96 && ipv4 === '0.0.0.0')) return
      const reason = expected(ipv4, 'ipv4')
      if (reason !== undefined) expect(classifyAddress(address), `${address} (${ipv4} at /${length})`).toBeDefined()
      // 64:ff9b:1::/96 itself (no operator bits), a destination that is not a network's first address x.0.0.0.
      else if (length === 96 && operatorBits === 0n && !ipv4.endsWith('.0.0.0')) expect(classifyAddress(address), `${address} (${ipv4})`).toBeUndefined()
    }), { seed: 0x6052, numRuns: 5000 })
    expect(classifyAddress('64:ff9b:1::808:808')).toBeUndefined()
    expect(classifyAddress('64:ff9b:1::8.8.8.8')).toBeUndefined()
    // The /48 layout, as RFC 8215's own prefix length puts 8.8.8.8.
    expect(classifyAddress('64:ff9b:1:808:8:800::')).toBeUndefined()
    // The /64 layout carrying 10.0.0.1, which neither the /48 nor the /96 layout reads as private.
    expect(classifyAddress('64:ff9b:1:800:a:0:100:0')).toBe('private')
    // Bits 64-71 set: no layout fits, where the IPv4 sits cannot be told.
    expect(classifyAddress('64:ff9b:1:0:ff00::808:808')).toBe('private')
  })
})

/**
 * RFC 6052 §2.2 written out again, bit by bit: after a /L prefix (L from 48: inside the local-use
 * /48), bits 64-71 skipped (they must be zero), 32 bits of IPv4, then a suffix that must be zero.
 */
function rfc6052Reading(value: bigint, length: 48 | 56 | 64 | 96): { ipv4: string; fits: boolean } {
  const bits = value.toString(2).padStart(128, '0')
  const rest = length < 64 ? bits.slice(length, 64) + bits.slice(72) : bits.slice(Math.max(length, 72))
  const ipv4 = text(BigInt(`0b${rest.slice(0, 32)}`), 'ipv4')
  return { ipv4, fits: !bits.slice(64, 72).includes('1') && !rest.slice(32).includes('1') }
}

/**
 * The reasons a local-use NAT64 address may be refused under (empty: allowed): 'private' when no
 * layout fits, else the refused IPv4 readings of the layouts it fits — the /96 reading aside when
 * it is 0.0.0.0 and a shorter layout fits (then it is that layout's zero suffix).
 */
function localUseVerdict(address: string): (EgressReason | undefined)[] {
  const readings = ([48, 56, 64, 96] as const).map((length) => ({ length, ...rfc6052Reading(base(address, 'ipv6'), length) })).filter((r) => r.fits)
  if (readings.length === 0) return ['private']
  const judged = readings.filter((r) => !(r.length === 96 && r.ipv4 === '0.0.0.0' && readings.length > 1))
  return judged.map((r) => expected(r.ipv4, 'ipv4')).filter((reason) => reason !== undefined)
}

/** The address of 64:ff9b:1::/48 that carries `ipv4` after the operator's bits `op` of a /`length` prefix, as RFC 6052 lays it out. */
function layoutAddress(length: 48 | 56 | 64 | 96, op: bigint, ipv4: string): string {
  const opLength = length - 48 - (length > 64 ? 8 : 0)
  const opBits = opLength === 0 ? '' : op.toString(2).padStart(opLength, '0').slice(-opLength)
  // The 72 bits after the /48, bits 64-71 aside: the operator's, the IPv4's, then the zero suffix.
  const flow = (opBits + base(ipv4, 'ipv4').toString(2).padStart(32, '0')).padEnd(72, '0')
  const bits = base('64:ff9b:1::', 'ipv6').toString(2).padStart(128, '0').slice(0, 48) + flow.slice(0, 16) + '0'.repeat(8) + flow.slice(16)
  return text(BigInt(`0b${bits}`), 'ipv6')
}

/** An address of 64:ff9b:1::/48: built in one of the layouts (operator bits, then an IPv4 public or of a row), or any. */
const localUseAddress = fc.oneof(
  fc.record({
    length: fc.constantFrom(48, 56, 64, 96, 96, 96),
    ipv4: fc.oneof(inside('0.0.0.0/0'), fc.constantFrom(...REFUSED.filter((r) => familyOf(r.cidr) === 'ipv4')).chain((r) => inside(r.cidr))),
    operatorBits: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 40n) - 1n })),
  }).map(({ length, ipv4, operatorBits }) => ({ address: layoutAddress(length as 48 | 56 | 64 | 96, operatorBits, ipv4), ipv4, length, operatorBits })),
  inside('64:ff9b:1::/48').map((address) => ({ address, ipv4: '', length: 0, operatorBits: -1n })),
)

const ns = useInterceptionHarness(fileURLToPath(new URL('../support/egress-harness.mjs', import.meta.url)))

interface Probe { status: number; msg: string; lookups: number }

describe('the real dial path, in a loopback-only namespace', () => {
  it('a refused address is the 403 naming it and its reason; a public one is dialled (unreachable here), never refused', async () => {
    const refused = fc.sample(refusedAddress, { seed: 0x403, numRuns: 60 })
    for (const { address, reason } of refused) {
      const answer = await ns.ask<Probe>({ address })
      expect(answer.status, `${address}: ${answer.msg}`).toBe(403)
      expect(answer.msg).toBe(`endpoint "probe": destination probe.test resolves to ${address}, ${REFUSED_AS[reason as EgressReason]} address; set allowPrivate on the endpoint to allow it`)
    }
    for (const address of fc.sample(publicAddress, { seed: 0x502, numRuns: 30 })) {
      const answer = await ns.ask<Probe>({ address })
      expect(answer.status, `${address}: ${answer.msg}`).toBe(502)
      expect(answer.msg).not.toContain('allowPrivate')
    }
  }, 120_000)

  it('a local-use NAT64 address carrying a public IPv4 is dialled (unreachable here), one carrying a refused IPv4 is the 403 naming it', async () => {
    for (const [address, refused] of [['64:ff9b:1::808:808', ''], ['64:ff9b:1:808:8:800::', ''], ['64:ff9b:1::a00:1', 'private address (IPv4 10.0.0.1 inside local-use NAT64 64:ff9b:1::/48, its /96 layout)'], ['64:ff9b:1:800:a:0:100:0', 'private address (IPv4 10.0.0.1 inside local-use NAT64 64:ff9b:1::/48, its /64 layout)']]) {
      const answer = await ns.ask<Probe>({ address })
      if (refused === '') expect([answer.status, answer.msg], address).toEqual([502, expect.not.stringContaining('allowPrivate')])
      else expect([answer.status, answer.msg], address).toEqual([403, `endpoint "probe": destination probe.test resolves to ${address}, a ${refused}; set allowPrivate on the endpoint to allow it`])
    }
  })

  it('checks every dial: a name that answers a public address, then loopback, is refused at its second dial', async () => {
    const first = await ns.ask<Probe>({ address: '192.31.196.10' })
    expect(first.status, first.msg).toBe(502)
    const second = await ns.ask<Probe>({ address: '127.0.0.1' })
    expect(second.status).toBe(403)
    expect(second.lookups).toBe(first.lookups + 1)
  })
})
