/**
 * The wire side of connect-target-ipv6.property.test.ts: generated spellings of IPv6 addresses
 * as CONNECT targets on a real (compiled) gateway, inside a loopback-only network namespace
 * (the targets come from generated input; nothing they name can leave the machine). Configured:
 * an intercepted endpoint https://[::1]:9441 and a pass-through entry written 0:0:0:0:0:0:0:1
 * port 9442. A spelling of ::1 is tunnelled (to the echo behind the pass-through entry, or
 * intercepted); every other address is the 403, and canaries on the same ports of ::2, ::100
 * and 127.0.0.1 (the IPv4 an IPv4-mapped spelling names) are never reached.
 */
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { useInterceptionHarness } from '../support/netns.js'
import { LOOPBACK, sameAddress, spelledAddresses } from '../support/ipv6-spellings.js'

const ns = useInterceptionHarness(fileURLToPath(new URL('../support/connect-ipv6-harness.mjs', import.meta.url)))

interface Answer { status: number; echoed: boolean }

describe('CONNECT to an IPv6 literal, any spelling, in a loopback-only namespace', () => {
  it('seeded property: tunnelled exactly when the address is the configured ::1, to the configured destination; nothing else is reached', async () => {
    const asked = (target: string): Promise<Answer> => ns.ask<Answer>({ target })
    const seen = { tunnelled: 0, refused: 0, echoes: 0 }
    await fc.assert(
      fc.asyncProperty(spelledAddresses(), fc.constantFrom(9441, 9442), async ({ groups, text }, port) => {
        const answer = await asked(`[${text}]:${port}`)
        if (sameAddress(groups, LOOPBACK)) {
          // Pass-through: the bytes went to the echo on [::1]:9442; intercepted: the tunnel opened (its requests go to the endpoint's URL).
          expect(answer, text).toEqual({ status: 200, echoed: port === 9442 })
          seen.tunnelled++
          if (port === 9442) seen.echoes++
        } else {
          expect(answer, text).toEqual({ status: 403, echoed: false })
          seen.refused++
        }
      }),
      { seed: 0x1f6, numRuns: 80 },
    )
    expect(seen.tunnelled).toBeGreaterThan(5)
    expect(seen.refused).toBeGreaterThan(5)
    const totals = await ns.stop<{ echoConnections: number; canaryHits: number }>()
    expect(totals.canaryHits).toBe(0)
    // One echo connection per pass-through tunnel, and none other.
    expect(totals.echoConnections).toBe(seen.echoes)
  }, 180_000)
})
