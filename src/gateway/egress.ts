/**
 * Egress policy against SSRF: the address the gateway actually dials must not be
 * loopback, private, link-local, carrier-grade NAT, a cloud metadata service or any other
 * block the special-purpose registries say is not globally reachable, unless
 * the endpoint allows private destinations. The check runs inside the dial's own DNS
 * lookup, so a name that answers differently the second time (DNS rebinding) is caught.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { embeddedIpv4 } from './embedded-ipv4.js'

export type EgressReason = 'loopback' | 'private' | 'link_local' | 'cgnat' | 'metadata' | 'unspecified' | 'multicast' | 'reserved'

/** A reason, the blocks it refuses, and the blocks inside them that stay allowed. */
const RULES: [EgressReason, BlockList, BlockList | undefined][] = []
function rule(reason: EgressReason, v4: string[], v6: string[], allowedInside: string[] = []): void {
  const allowedV4 = allowedInside.filter((cidr) => !cidr.includes(':'))
  const allowedV6 = allowedInside.filter((cidr) => cidr.includes(':'))
  RULES.push([reason, blockList(v4, v6), allowedInside.length > 0 ? blockList(allowedV4, allowedV6) : undefined])
}
function blockList(v4: string[], v6: string[]): BlockList {
  const list = new BlockList()
  for (const cidr of v4) list.addSubnet(...splitCidr(cidr), 'ipv4')
  for (const cidr of v6) list.addSubnet(...splitCidr(cidr), 'ipv6')
  return list
}
function splitCidr(cidr: string): [string, number] {
  const [net, bits] = cidr.split('/')
  return [net as string, Number(bits)]
}

// Every block the IANA IPv4 and IPv6 Special-Purpose Address Registries list as not globally
// reachable (RFC 6890 and its updates), plus multicast, IPv6 site-local and IPv6 outside 2000::/3.
// Order matters: the metadata addresses sit inside link-local / unique-local ranges.
// 168.63.129.16: Azure's WireServer, a public address every Azure VM reaches (VM extension settings, certificates).
rule('metadata', ['169.254.169.254/32', '169.254.170.2/32', '100.100.100.200/32', '168.63.129.16/32'], ['fd00:ec2::254/128'])
rule('loopback', ['127.0.0.0/8'], ['::1/128'])
rule('unspecified', ['0.0.0.0/8'], ['::/128'])
// fec0::/10: site-local, deprecated (RFC 3879) but still routed inside some networks. The local-use
// NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is judged by the IPv4 inside, like 64:ff9b::/96 (embedded-ipv4.ts).
rule('private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], ['fc00::/7', 'fec0::/10'])
rule('link_local', ['169.254.0.0/16'], ['fe80::/10'])
rule('cgnat', ['100.64.0.0/10'], [])
rule('multicast', ['224.0.0.0/4', '255.255.255.255/32'], ['ff00::/8'])
// IETF protocol assignments, documentation (TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20), benchmarking,
// the deprecated 6to4 relay anycast, future use, discard-only and dummy prefixes, SRv6 SIDs. Inside
// them the registries' globally reachable blocks stay allowed: AMT, AS112-v6, ORCHIDv2, DETs; and
// Teredo, judged by the IPv4 addresses inside it. The PCP, TURN and DNS-SD SRP anycast addresses
// (192.0.0.9, 192.0.0.10, 2001:1::1-3) are refused although the registries call them globally
// reachable: the nearest instance answers, usually a router or NAT inside this network, and no
// HTTPS backend lives there.
rule(
  'reserved',
  ['192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4'],
  ['100::/64', '100:0:0:1::/64', '2001::/23', '2001:db8::/32', '3fff::/20', '5f00::/16'],
  ['2001::/32', '2001:3::/32', '2001:4:112::/48', '2001:20::/28', '2001:30::/28'],
)
/** The IANA IPv6 Address Space registry allocates only 2000::/3 as global unicast; the rest is reserved or unassigned. */
const GLOBAL_UNICAST = blockList([], ['2000::/3'])

/** Why an address is refused, or undefined when it is a public destination. */
export function classifyAddress(address: string): EgressReason | undefined {
  const addr = address.replace(/^\[|\]$/g, '').split('%')[0] as string
  const family = isIP(addr)
  if (family === 0) return 'reserved'
  if (family === 4) return classifyWith(addr, 'ipv4')
  // An IPv4 address wrapped in IPv6 (mapped, NAT64, 6to4, Teredo…) is judged as that IPv4 address; one
  // whose place cannot be told (a local-use NAT64 address no RFC 6052 layout fits) as private: the operator's translator's.
  const wrappings = embeddedIpv4(addr)
  for (const wrapped of wrappings) {
    const reason = wrapped.ipv4 === undefined ? 'private' : classifyWith(wrapped.ipv4, 'ipv4')
    if (reason) return reason
  }
  const reason = classifyWith(addr, 'ipv6')
  if (reason) return reason
  // Outside 2000::/3 only the IPv4 wrappings (mapped, translated, compatible, NAT64), judged above, lead anywhere public.
  return wrappings.length === 0 && !GLOBAL_UNICAST.check(addr, 'ipv6') ? 'reserved' : undefined
}

/** ` (IPv4 a.b.c.d inside <wrapping>)` naming the wrapped address that was refused, or ''. */
function describeEmbedded(address: string): string {
  const addr = address.replace(/^\[|\]$/g, '').split('%')[0] as string
  if (isIP(addr) !== 6) return ''
  const refused = embeddedIpv4(addr).find((e) => e.ipv4 === undefined || classifyWith(e.ipv4, 'ipv4') !== undefined)
  if (refused === undefined) return ''
  return refused.ipv4 === undefined ? ` (inside ${refused.via})` : ` (IPv4 ${refused.ipv4} inside ${refused.via})`
}

function classifyWith(addr: string, type: 'ipv4' | 'ipv6'): EgressReason | undefined {
  for (const [reason, list, allowed] of RULES) if (list.check(addr, type) && !allowed?.check(addr, type)) return reason
  return undefined
}

/** Raised (as a dial error) when the policy refuses a destination. */
export class EgressDeniedError extends Error {
  readonly code = 'ERR_GATEWAY_EGRESS_DENIED'
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: EgressReason,
    setting = 'allowPrivate on the endpoint',
  ) {
    super(`destination ${host} resolves to ${address}, ${withArticle(reason.replace('_', '-'))} address${describeEmbedded(address)}; set ${setting} to allow it`)
  }
}

/** A reason's name (EgressReason, all lower-case) after its indefinite article: "an unspecified", "a cgnat". */
function withArticle(word: string): string {
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`
}

export type Resolve = (host: string, options: { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void

export interface EgressOptions {
  allowPrivate: boolean
  /** The setting that allows private destinations, named in refusals (default: the endpoint's allowPrivate). */
  setting?: string
  /** DNS resolution (tests inject resolvers that misbehave); default dns.lookup. */
  resolve?: Resolve
  onRefusal?: (reason: EgressReason) => void
}

/** A net/tls `lookup` that resolves, then refuses the dial when any answer is not allowed. */
export function createEgressLookup(o: EgressOptions): LookupFunction {
  const resolve: Resolve = o.resolve ?? ((host, opts, cb) => dnsLookup(host, opts, cb))
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolve(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err)
      if (!o.allowPrivate) {
        // Refuse when ANY answer is private: a name mixing public and private answers is a rebinding attempt.
        for (const a of addresses) {
          const reason = classifyAddress(a.address)
          if (reason) {
            o.onRefusal?.(reason)
            return callback(new EgressDeniedError(hostname, a.address, reason, o.setting))
          }
        }
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }))
      if (options.all) return callback(null, addresses)
      const first = addresses[0] as LookupAddress
      callback(null, first.address, first.family)
    })
  }) as LookupFunction
}

/** Checks a literal address (a pinned `resolve`, an IP URL host) against the policy. */
export function checkLiteral(host: string, address: string, o: EgressOptions): EgressDeniedError | undefined {
  if (o.allowPrivate) return undefined
  const reason = classifyAddress(address)
  if (!reason) return undefined
  o.onRefusal?.(reason)
  return new EgressDeniedError(host, address, reason, o.setting)
}
