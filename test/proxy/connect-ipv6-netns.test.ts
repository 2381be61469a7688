/**
 * The wire side of connect-target-ipv6.property.test.ts: generated spellings of IPv6 addresses
 * as CONNECT targets on a real (compiled) gateway, inside a loopback-only network namespace
 * (the targets come from generated input; nothing they name can leave the machine). Configured:
 * an intercepted endpoint https://[::1]:9441 and a pass-through entry written 0:0:0:0:0:0:0:1
 * port 9442. A spelling of ::1 is tunnelled (to the echo behind the pass-through entry, or
 * intercepted); every other address is the 403, and canaries on the same ports of ::2, ::100
 * and 127.0.0.1 (the IPv4 an IPv4-mapped spelling names) are never reached.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { ROOT, ensureDistBuilt, startInNetns, type NetnsProcess } from '../support/netns.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { LOOPBACK, sameAddress, spelledAddresses } from '../support/ipv6-spellings.js'

const HARNESS = fileURLToPath(new URL('../support/connect-ipv6-harness.mjs', import.meta.url))

let pki: TestPki
let ns: NetnsProcess | undefined

beforeAll(async () => {
  await ensureDistBuilt()
  pki = await createTestPki('p256')
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ns = await startInNetns(HARNESS, [`${ROOT}dist`, pki.dir, clientTlsYaml(pki), ica.caCert, ica.caKey])
}, 240_000)

afterAll(async () => {
  await ns?.close()
  pki?.cleanup()
})

interface Answer { status: number; echoed: boolean }

describe('CONNECT to an IPv6 literal, any spelling, in a loopback-only namespace', () => {
  it('seeded property: tunnelled exactly when the address is the configured ::1, to the configured destination; nothing else is reached', async () => {
    const asked = (target: string): Promise<Answer> => (ns as NetnsProcess).ask<Answer>({ target })
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
    const totals = await (ns as NetnsProcess).ask<{ echoConnections: number; canaryHits: number }>({ stop: true })
    ns = undefined
    expect(totals.canaryHits).toBe(0)
    // One echo connection per pass-through tunnel, and none other.
    expect(totals.echoConnections).toBe(seen.echoes)
  }, 180_000)
})
