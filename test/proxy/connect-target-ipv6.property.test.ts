/**
 * A CONNECT's IPv6 literal is matched by address: every spelling of a configured address (leading
 * zeros, `::` anywhere a zero run allows, hex case, a dotted-quad tail) finds it, and no spelling of
 * another address does. The canonical text the gateway keeps names the address that was written
 * (read back by hand in ipv6-spellings.ts, not by node:net or URL), so normalising can never turn
 * one address into another. Pure: nothing here dials; connect-ipv6-netns.test.ts is the wire side.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalHost } from '../../src/config/normalize-util.js'
import { parseConnectTarget } from '../../src/proxy/request-target.js'
import { groupsOf, sameAddress, spelledAddresses } from '../support/ipv6-spellings.js'

describe('CONNECT IPv6 targets, canonical by address', () => {
  it('seeded property: the kept spelling names the written address; a configured spelling matches a CONNECT spelling exactly when both are one address', () => {
    const seen = { matched: 0, missed: 0 }
    fc.assert(
      fc.property(spelledAddresses(), spelledAddresses(), fc.integer({ min: 1, max: 65535 }), (configured, asked, port) => {
        const target = parseConnectTarget(`[${asked.text}]:${port}`)
        expect(target, asked.text).toBeDefined()
        const host = (target as { host: string }).host
        expect(groupsOf(host), `${asked.text} → ${host}`).toEqual(asked.groups)
        expect(target?.port).toBe(port)
        // The key an endpoint's `hosts` entry (or URL) is filed under, and a pass-through entry's host.
        const key = canonicalHost(`[${configured.text}]:${port}`)
        expect(groupsOf(key.slice(1, key.lastIndexOf(']')))).toEqual(configured.groups)
        expect(canonicalHost(configured.text)).toBe(key.slice(1, key.lastIndexOf(']')))
        const matched = `[${host}]:${port}` === key
        expect(matched, `${configured.text} vs ${asked.text}`).toBe(sameAddress(configured.groups, asked.groups))
        seen[matched ? 'matched' : 'missed']++
      }),
      { seed: 0x6a11, numRuns: 2000 },
    )
    expect(seen.matched).toBeGreaterThan(100)
    expect(seen.missed).toBeGreaterThan(100)
  })

  it('spellings seen in the wild', () => {
    for (const t of ['[0:0:0:0:0:0:0:1]:443', '[::0001]:443', '[0::1]:443', '[::0.0.0.1]:443', '[0000:0000:0000:0000:0000:0000:0000:0001]:443']) expect(parseConnectTarget(t), t).toEqual({ host: '::1', port: 443 })
    expect(parseConnectTarget('[::FFFF:127.0.0.1]:443')).toEqual({ host: '::ffff:7f00:1', port: 443 })
    expect(parseConnectTarget('[2001:DB8::A]:8443')).toEqual({ host: '2001:db8::a', port: 8443 })
    // Not the IPv4 address, and not ::1: the address is kept, only its spelling changes.
    expect(parseConnectTarget('[::127.0.0.1]:443')).toEqual({ host: '::7f00:1', port: 443 })
  })

  it('DNS names and dotted IPv4 are only lower-cased; a bracketed non-address is malformed', () => {
    expect(parseConnectTarget('API.Partner.Test:8443')).toEqual({ host: 'api.partner.test', port: 8443 })
    expect(parseConnectTarget('127.1:443')).toEqual({ host: '127.1', port: 443 })
    expect(parseConnectTarget('127.0.0.1:443')).toEqual({ host: '127.0.0.1', port: 443 })
    for (const t of ['[1:2]:443', '[::1::]:443', '[1.2.3.4]:443', '[:::]:443', '[::1]:0', '[::1]']) expect(parseConnectTarget(t), t).toBeUndefined()
    expect(canonicalHost('API.partner.test:8443')).toBe('api.partner.test:8443')
    expect(canonicalHost('[0:0::1]:8443')).toBe('[::1]:8443')
    expect(canonicalHost('[0:0::1]')).toBe('[::1]')
    expect(canonicalHost('0:0::FFFF:127.0.0.1')).toBe('::ffff:7f00:1')
  })
})
