/**
 * The wire side of connect-trailing-dot.property.test.ts for generated targets: near-miss
 * spellings of the configured names as CONNECT targets on a real (compiled) gateway, inside a
 * loopback-only network namespace (the targets come from generated input; nothing they name can
 * leave the machine). Configured: `api.partner.test` and `other.partner.test.` (written with its
 * dot), both intercepted on port 9441. A spelling that is one of them (letter case, one trailing
 * dot aside) on 9441 opens a tunnel whose leaf names exactly that configured host; every other
 * spelling is the 403, and nothing reaches the endpoints' address (a CONNECT alone dials nothing).
 */
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { useInterceptionHarness } from '../support/netns.js'

const CONFIGURED = ['api.partner.test', 'other.partner.test']
const ns = useInterceptionHarness(fileURLToPath(new URL('../support/connect-trailing-dot-harness.mjs', import.meta.url)))

/** The rule, by hand: lower case, exactly one trailing dot after a non-dot dropped. */
const reference = (t: string): string => (t.length > 1 && t.endsWith('.') && !t.endsWith('..') ? t.slice(0, -1) : t).toLowerCase()

const spelling = fc
  .tuple(fc.constantFrom(...CONFIGURED, 'partner.test', 'api.partner.tes', 'apipartner.test'), fc.integer({ min: 0, max: 2 ** 20 }), fc.constantFrom('', '.', '.', '..', '...'), fc.constantFrom('', '', '', '.'))
  .map(([name, caseBits, tail, lead]) => lead + [...name].map((c, i) => ((caseBits >> i % 20) & 1 ? c.toUpperCase() : c)).join('') + tail)

describe('CONNECT targets with trailing dots, in a loopback-only namespace', () => {
  it('seeded property: tunnelled exactly for a configured name (case, one trailing dot aside), under that name\'s leaf; nothing is dialled', async () => {
    const seen = { tunnelled: 0, dotted: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(spelling, fc.constantFrom(9441, 9441, 9443), async (host, port) => {
        const answer = await ns.ask<{ status: number; san: string | null }>({ target: `${host}:${port}` })
        const name = reference(host)
        if (CONFIGURED.includes(name) && port === 9441) {
          expect(answer, host).toEqual({ status: 200, san: `DNS:${name}` })
          seen.tunnelled++
          if (host.endsWith('.')) seen.dotted++
        } else {
          expect(answer, `${host}:${port}`).toEqual({ status: 403, san: null })
          seen.refused++
        }
      }),
      { seed: 0x2e, numRuns: 400 },
    )
    expect(seen.dotted).toBeGreaterThan(5)
    expect(seen.tunnelled - seen.dotted).toBeGreaterThan(5)
    expect(seen.refused).toBeGreaterThan(5)
    const totals = await ns.stop<{ canaryHits: number }>()
    expect(totals.canaryHits).toBe(0)
  }, 180_000)
})
