/**
 * The source key a throttle counts under: IPv4 per address, also when an IPv6 address
 * carries it (IPv4-mapped, NAT64 64:ff9b::/96, IPv4-compatible ::a.b.c.d), however it is
 * spelled; link-local (fe80::/10) per address, the zone dropped; other IPv6 per /64 whatever
 * its spelling (case, leading zeros, '::', a dotted tail, a zone); and the store-key segment
 * made of it: no ':' or other character that could reach outside its segment of
 * `throttle:<name>:<source>:<window>`, and distinct keys never share a segment.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sourceKey, storeSegment } from '../../src/api/source-key.js'
import { ADDRESSES } from './throttle-support.js'

const SAFE = /^[a-z0-9._-]+$/

/** One spelling of the eight 16-bit groups `g`. */
const spelling = (g: readonly number[]) =>
  fc.record({ upper: fc.boolean(), pad: fc.boolean(), dotted: fc.boolean(), zone: fc.boolean(), cut: fc.nat({ max: 8 }), len: fc.nat({ max: 8 }) }).map(({ upper, pad, dotted, zone, cut, len }) => {
    const hex = (n: number): string => (pad ? n.toString(16).padStart(4, '0') : n.toString(16))
    const tail = dotted ? [`${(g[6] as number) >> 8}.${(g[6] as number) & 255}.${(g[7] as number) >> 8}.${(g[7] as number) & 255}`] : [hex(g[6] as number), hex(g[7] as number)]
    const parts = [...g.slice(0, 6).map(hex), ...tail]
    // '::' over a run of zero groups starting at `cut` (only whole hex groups, never into the dotted tail).
    const groupsInHex = dotted ? 6 : 8
    let end = cut
    while (end < groupsInHex && end - cut < len && g[end] === 0) end++
    const text = end > cut ? `${parts.slice(0, cut).join(':')}::${parts.slice(end).join(':')}` : parts.join(':')
    return (upper ? text.toUpperCase() : text) + (zone ? '%eth0' : '')
  })

const group16 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }))
/** Heads (the first six groups) that carry an IPv4 address or are link-local, and any head. */
const HEADS: Record<string, (g: number[]) => number[]> = {
  any: (g) => g,
  mapped: (g) => [0, 0, 0, 0, 0, 0xffff, ...g.slice(6)],
  nat64: (g) => [0x64, 0xff9b, 0, 0, 0, 0, ...g.slice(6)],
  compatible: (g) => [0, 0, 0, 0, 0, 0, ...g.slice(6)],
  linkLocal: (g) => [0xfe80 | ((g[0] as number) & 0x3f), ...g.slice(1)],
  nearNat64: (g) => [0x64, 0xff9b, 1, 0, 0, 0, ...g.slice(6)],
}
const groups = fc.tuple(fc.constantFrom(...Object.keys(HEADS)), fc.array(group16, { minLength: 8, maxLength: 8 })).map(([head, g]) => (HEADS[head] as (g: number[]) => number[])(g))

/** The key the eight groups must be counted under, written from the groups (not by parsing). */
function expectedKey(g: readonly number[]): string {
  const six = g.slice(0, 6).map((n) => n.toString(16)).join(':')
  const last32 = (g[6] as number) * 0x10000 + (g[7] as number)
  const carries = six === '0:0:0:0:0:ffff' || six === '64:ff9b:0:0:0:0' || (six === '0:0:0:0:0:0' && last32 > 1)
  if (carries) return [(g[6] as number) >> 8, (g[6] as number) & 255, (g[7] as number) >> 8, (g[7] as number) & 255].join('.')
  if ((g[0] as number) >= 0xfe80 && (g[0] as number) <= 0xfebf) return g.map((n) => n.toString(16)).join(':')
  return `${g.slice(0, 4).map((n) => n.toString(16)).join(':')}::/64`
}

describe('source keys', () => {
  it('keys IPv4 (mapped, NAT64, compatible too) and link-local per address, other IPv6 per /64', () => {
    for (const [a, group] of ADDRESSES) {
      for (const [b, other] of ADDRESSES) expect(sourceKey(a) === sourceKey(b), `${a} vs ${b}`).toBe(group === other)
    }
    expect(sourceKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(sourceKey('::ffff:127.0.0.3')).toBe('127.0.0.3')
    expect(sourceKey('64:ff9b::192.0.2.33')).toBe('192.0.2.33')
    expect(sourceKey('::192.0.2.33')).toBe('192.0.2.33')
    expect(sourceKey('::1')).toBe('0:0:0:0::/64')
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0:0:0:0:1')
    expect(sourceKey('FEBF::A%lo')).toBe('febf:0:0:0:0:0:0:a')
    expect(sourceKey(undefined)).toBe('unknown')
  })

  it('property: every spelling of an IPv6 address (mapped, NAT64, compatible, link-local too) gets the key of its groups (5,000 runs)', () => {
    fc.assert(
      fc.property(groups.chain((g) => fc.tuple(fc.constant(g), spelling(g), spelling(g))), ([g, a, b]) => {
        expect(sourceKey(a)).toBe(expectedKey(g))
        expect(sourceKey(b)).toBe(expectedKey(g))
      }),
      { seed: 0x5ce1, numRuns: 5_000 },
    )
  })

  it('property: a segment holds only [a-z0-9._-], and two keys share one only when they are equal (5,000 runs)', () => {
    const address = fc.oneof(groups.chain(spelling), fc.ipV4(), fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('unknown', 'x_', 'v4_1.2.3.4', '1:2:3:4::/64', 'fe80:0:0:0:0:0:0:1', 'v6ll_fe80-0-0-0-0-0-0-1', '\ud800', '\ud801', '\ufffd'))
    fc.assert(
      fc.property(address, address, (a, b) => {
        const [ka, kb] = [sourceKey(a), sourceKey(b)]
        const [sa, sb] = [storeSegment(ka), storeSegment(kb)]
        expect(sa).toMatch(SAFE)
        expect(sb).toMatch(SAFE)
        expect(sa === sb).toBe(ka === kb)
      }),
      { seed: 0x5e9, numRuns: 5_000 },
    )
    // The spellings the store holds, for operators reading it.
    expect(storeSegment(sourceKey('::ffff:10.1.2.3'))).toBe('v4_10.1.2.3')
    expect(storeSegment(sourceKey('2001:DB8::7'))).toBe('v6_2001-db8-0-0')
    expect(storeSegment(sourceKey('64:ff9b::10.1.2.3'))).toBe('v4_10.1.2.3')
    expect(storeSegment(sourceKey('fe80::1%eth0'))).toBe('v6ll_fe80-0-0-0-0-0-0-1')
  })
})
