/**
 * The judgement of an intercepted tunnel after a reload (outdated-tunnel.ts), over generated
 * snapshots: a tunnel stands exactly when a fresh CONNECT to its host would be intercepted with
 * a leaf of the same CA bytes; otherwise its next inner request gets 421 when a fresh CONNECT
 * would be accepted some other way (another CA, pass-through) and the 403 a fresh CONNECT gets
 * when it would be refused. The fresh CONNECT's decision is written here from connect.ts's
 * order: listen.waysIn without `connect` refuses first; endpoints on the authority win over a
 * passThrough entry; no interception, no tunnel.
 */
import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway/index.js'
import type { InterceptionCa } from '../../src/tls/index.js'
import type { Tunnel } from '../../src/proxy/connect.js'
import { outdatedTunnel } from '../../src/proxy/outdated-tunnel.js'

const key = (): InterceptionCa['key'] => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
const keys = [key(), key()] as const
/** CA `n`: a fresh object each time (a reload reads the files again), same bytes for the same `n`; `valid`: within its validity now. */
const ca = (n: 0 | 1, valid = true): InterceptionCa =>
  ({ certPem: `-----BEGIN CERTIFICATE-----\nca-${n}\n`, key: keys[n], subject: `CN=ca ${n}`, validityFault: () => (valid ? undefined : `the interception CA is not valid before 2999-01-01T00:00:00.000Z ("CN=ca ${n}")`) }) as unknown as InterceptionCa

const hosts = ['api.partner.test', 'Other.test', '10.0.0.1', '::1', 'fe80::1'] as const
const authorityOf = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host.toLowerCase()}:${port}`

interface Snapshot {
  interception: boolean
  ca: 0 | 1
  /** The CA in force is within its validity (else a fresh CONNECT to intercept is a 503). */
  caValid: boolean
  endpoints: boolean
  passThrough: boolean
  /** listen.waysIn includes `connect`. */
  connect: boolean
}

function gatewayOf(s: Snapshot, host: string, port: number): Gateway {
  const authority = authorityOf(host, port)
  const byHost = new Map<string, unknown[]>(s.endpoints ? [[authority, [{ name: 'partner' }]]] : [])
  const passThrough = s.passThrough ? [{ host: host.toLowerCase(), port }] : []
  const listen = { waysIn: s.connect ? ['forward', 'connect', 'route', 'api'] : ['forward', 'route', 'api'] }
  const config = s.interception ? { listen, interception: { passThrough } } : { listen }
  return { byHost, config, ...(s.interception ? { interception: ca(s.ca, s.caValid) } : {}) } as unknown as Gateway
}

/** What a fresh CONNECT to the authority gets under `s`. */
function fresh(s: Snapshot): 'intercepted' | 'pass_through' | 'refused' | 'unavailable' | 'way_in_disabled' {
  if (!s.connect) return 'way_in_disabled'
  if (!s.interception) return 'refused'
  if (s.endpoints) return s.caValid ? 'intercepted' : 'unavailable'
  return s.passThrough ? 'pass_through' : 'refused'
}

const snapshot = fc.record({ interception: fc.boolean(), ca: fc.constantFrom<0 | 1>(0, 1), caValid: fc.boolean(), endpoints: fc.boolean(), passThrough: fc.boolean(), connect: fc.boolean() })

describe('outdatedTunnel', () => {
  it('refuses exactly what a fresh CONNECT would set up differently: 421 when accepted otherwise, 403 when refused, 503 while the new CA is outside its validity', () => {
    fc.assert(
      fc.property(fc.constantFrom(...hosts), fc.integer({ min: 1, max: 65535 }), fc.constantFrom<0 | 1>(0, 1), snapshot, (host, port, opened, now) => {
        const tunnel = { authority: authorityOf(host, port), ca: ca(opened) } as unknown as Tunnel
        const verdict = outdatedTunnel(tunnel, gatewayOf(now, host, port))
        const decision = fresh(now)
        // The tunnel's own CA still in force: its leaf stands (a CA that expires without a reload is no reload's doing).
        if ((decision === 'intercepted' || decision === 'unavailable') && now.ca === opened) {
          expect(verdict).toBeUndefined()
          return
        }
        expect(verdict?.reason).toBe(decision === 'refused' ? 'endpoint_not_configured' : decision === 'unavailable' || decision === 'way_in_disabled' ? decision : 'tunnel_outdated')
        // The message names the authority (or, for a way in left out, the key to set), never a key.
        expect(verdict?.message).toContain(decision === 'way_in_disabled' ? 'listen.waysIn' : tunnel.authority)
      }),
      { seed: 2612, numRuns: 300 },
    )
  })

  it('judges a tunnel once per snapshot: the same verdict object for the same snapshot', () => {
    const tunnel = { authority: 'api.partner.test:443', ca: ca(0) } as unknown as Tunnel
    const g = gatewayOf({ interception: true, ca: 1, caValid: true, endpoints: true, passThrough: false, connect: true }, 'api.partner.test', 443)
    expect(outdatedTunnel(tunnel, g)).toBe(outdatedTunnel(tunnel, g))
  })
})
