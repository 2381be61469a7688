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
 * ORCHID 2001:10::/28, …) and 5f00::/16 were let through, and so was a local-use NAT64 address
 * (64:ff9b:1::/48) whose /48 and /96 layouts both read a public IPv4, though its /56 or /64 layout
 * may carry 10.0.0.1. A name that rebinds from a public answer to loopback is refused at its second dial.
 */
import { BlockList } from 'node:net'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { classifyAddress, type EgressReason } from '../../src/gateway/index.js'
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
]

/** Special blocks the registries list as globally reachable (Teredo, 2001::/32, is judged by the IPv4 inside: egress-ipv6.test.ts). */
const GLOBAL_SPECIAL = ['192.31.196.0/24', '192.52.193.0/24', '192.175.48.0/24', '2001:3::/32', '2001:4:112::/48', '2001:20::/28', '2001:30::/28', '2620:4f:8000::/48']
/** Judged by the IPv4 address inside, or not generated as public for that reason. */
const WRAPPERS = ['2001::/32', '2002::/16', '64:ff9b::/96', '64:ff9b:1::/48', '::ffff:0:0/96', '::/96']

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
  return ROW_LISTS.find(({ list }) => list.check(address, f))?.row.reason
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

  it('refuses the local-use NAT64 prefix 64:ff9b:1::/48 whatever it carries (a public IPv4 in it is private; another is judged by its IPv4)', () => {
    fc.assert(fc.property(inside('64:ff9b:1::/48'), (address) => {
      expect(classifyAddress(address), address).toBeDefined()
    }), { seed: 0x64ff, numRuns: 2000 })
    expect(classifyAddress('64:ff9b:1::808:808')).toBe('private')
    // The /64 layout (RFC 6052) carrying 10.0.0.1, which neither the /48 nor the /96 layout reads as private.
    expect(classifyAddress('64:ff9b:1:800:a:0:100:0')).toBe('private')
  })
})

const ns = useInterceptionHarness(fileURLToPath(new URL('../support/egress-harness.mjs', import.meta.url)))

interface Probe { status: number; msg: string; lookups: number }

describe('the real dial path, in a loopback-only namespace', () => {
  it('a refused address is the 403 naming it and its reason; a public one is dialled (unreachable here), never refused', async () => {
    const refused = fc.sample(refusedAddress, { seed: 0x403, numRuns: 60 })
    for (const { address, reason } of refused) {
      const answer = await ns.ask<Probe>({ address })
      expect(answer.status, `${address}: ${answer.msg}`).toBe(403)
      expect(answer.msg).toBe(`endpoint "probe": destination probe.test resolves to ${address}, a ${String(reason).replace('_', '-')} address; set allowPrivate on the endpoint to allow it`)
    }
    for (const address of fc.sample(publicAddress, { seed: 0x502, numRuns: 30 })) {
      const answer = await ns.ask<Probe>({ address })
      expect(answer.status, `${address}: ${answer.msg}`).toBe(502)
      expect(answer.msg).not.toContain('allowPrivate')
    }
  }, 120_000)

  it('checks every dial: a name that answers a public address, then loopback, is refused at its second dial', async () => {
    const first = await ns.ask<Probe>({ address: '192.31.196.10' })
    expect(first.status, first.msg).toBe(502)
    const second = await ns.ask<Probe>({ address: '127.0.0.1' })
    expect(second.status).toBe(403)
    expect(second.lookups).toBe(first.lookups + 1)
  }, 60_000)
})
