/**
 * Host-service addresses clouds give every VM besides 169.254.169.254 are metadata too: Azure's
 * WireServer 168.63.129.16 (a public address, reachable only from inside Azure, which serves VM
 * extension settings and certificates), and IPv6 site-local fec0::/10 (RFC 3879 deprecated it, some
 * networks still route it internally) is private. Public addresses beside them stay allowed; fe7f::1,
 * below link-local, is unallocated IPv6 (outside 2000::/3) and refused as reserved.
 */
import { describe, expect, it } from 'vitest'
import { classifyAddress } from '../../src/gateway/index.js'

describe('egress ranges', () => {
  it.each([
    ['168.63.129.16', 'metadata'],
    ['::ffff:168.63.129.16', 'metadata'],
    ['64:ff9b::a83f:8110', 'metadata'],
    ['fec0::1', 'private'],
    ['feff:ffff::1', 'private'],
    // Below link-local: unallocated (fe00::/9), outside 2000::/3.
    ['fe7f::1', 'reserved'],
    // PCP, TURN and DNS-SD SRP anycast: globally reachable in the registries, refused on purpose (the nearest instance is local).
    ['192.0.0.9', 'reserved'],
    ['192.0.0.10', 'reserved'],
    ['2001:1::1', 'reserved'],
    ['2001:1::3', 'reserved'],
  ])('%s is refused as %s', (address, reason) => {
    expect(classifyAddress(address)).toBe(reason)
  })

  it.each(['168.63.129.15', '168.63.129.17', '8.8.8.8', '2606:4700::1111'])('%s stays allowed', (address) => {
    expect(classifyAddress(address)).toBeUndefined()
  })
})
