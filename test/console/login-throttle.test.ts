/**
 * The console's sign-in throttle counts wrong tokens per source address: wrong tokens from
 * some addresses never make another address wait, an address past its limit waits until
 * its own minute has passed, IPv6 counts per /64, and the map stays within its cap.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLoginThrottle, sourceKey } from '../../src/console/login-throttle.js'

// Each address with the group it must be counted in, written out by hand (not by sourceKey).
const ADDRESSES: readonly (readonly [string, string])[] = [
  ['127.0.0.1', 'a'], ['::ffff:127.0.0.1', 'a'], ['127.0.0.2', 'b'], ['10.0.0.1', 'c'], ['10.0.0.2', 'd'],
  ['2001:db8::1', 'e'], ['2001:DB8:0:0:ffff::2', 'e'], ['2001:db8:0:0:1:2:3:4', 'e'], ['2001:db8:0:1::1', 'f'],
  ['fe80::1%eth0', 'g'], ['fe80::2', 'g'], ['::1', 'h'], ['::ffff:10.0.0.2', 'd'],
]
const MINUTE = 60_000

describe('sign-in throttle', () => {
  it('keys IPv4 (mapped too) per address and IPv6 per /64', () => {
    for (const [a, group] of ADDRESSES) {
      for (const [b, other] of ADDRESSES) expect(sourceKey(a) === sourceKey(b), `${a} vs ${b}`).toBe(group === other)
    }
    expect(sourceKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
  })

  it('property: no address waits for others\' wrong tokens; each waits past its own limit within the cap; the map stays bounded (5,000 runs)', () => {
    const step = fc.record({ at: fc.nat({ max: ADDRESSES.length - 1 }), wrong: fc.boolean(), later: fc.constantFrom(0, 0, 1, 1_000, 20_000, MINUTE) })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 120 }), (maxWrong, maxAddresses, steps) => {
        const throttle = createLoginThrottle({ maxWrong, maxAddresses })
        // The model: every wrong token per group, never forgotten but by time.
        const wrongAt = new Map<string, number[]>()
        const inWindow = (group: string, now: number): number => (wrongAt.get(group) ?? []).filter((t) => t > now - MINUTE).length
        let now = 1_000_000
        for (const { at, wrong, later } of steps) {
          now += later
          const [address, group] = ADDRESSES[at] as readonly [string, string]
          const waits = throttle.throttled(address, now)
          // Nobody waits without their own limit's worth of wrong tokens in the last minute.
          if (waits) expect(inWindow(group, now)).toBeGreaterThanOrEqual(maxWrong)
          // With no more groups than the cap nothing is evicted: brute force waits, per address.
          if (wrongAt.size <= maxAddresses) expect(waits).toBe(inWindow(group, now) >= maxWrong)
          if (wrong && !waits) {
            throttle.wrong(address, now)
            wrongAt.set(group, [...(wrongAt.get(group) ?? []), now])
          }
          expect(throttle.size).toBeLessThanOrEqual(maxAddresses)
        }
      }),
      { seed: 0x7420, numRuns: 5_000 },
    )
  })

  it('evicts the address wrong least recently when the cap is reached', () => {
    const throttle = createLoginThrottle({ maxWrong: 1, maxAddresses: 2 })
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3']) throttle.wrong(a, 0)
    expect(throttle.size).toBe(2)
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((a) => throttle.throttled(a, 1))).toEqual([true, false, true])
    expect(throttle.throttled('10.0.0.1', MINUTE + 1)).toBe(false)
  })
})
