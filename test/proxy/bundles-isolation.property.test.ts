/**
 * Credential isolation as a property (fast-check, seeded): generated topologies of endpoints that
 * share upstream servers (same host:port, same IP, same SNI name; by name with `resolve`, by IP
 * literal with and without `serverName`), some with tenants that have their own bundles, each
 * bundle its own client certificate; generated request sequences interleaved with hot reloads
 * that rotate a certificate, renew one in place (new key and certificate written over the same
 * files, the config text unchanged), swap two bundles' certificates, move an endpoint's server
 * anchors to a root that did not issue the server's chain (and back), or change nothing (the
 * pools are then kept, connections and sessions with them). Against real TLS servers that report
 * the client certificate and whether the session was resumed, every request presents exactly the
 * certificate its endpoint (or tenant) has now, and is verified by the anchors it has now: never a
 * pooled connection or a cached session of another bundle or of an older config.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const CERTS = 24
const TENANTS = ['acme', 'globex', 'zeta'] as const
type Tenant = (typeof TENANTS)[number]

let pki: TestPki
let other: TestPki
const servers: RunningServer[] = []
const pairs: { cert: string; key: string }[] = []
/** How many times each certificate was renewed in place: its subject says it. */
const renewals: number[] = []
const subjectOf = (cert: number): string => `CN=id-${cert}${renewals[cert] ? `.r${renewals[cert]}` : ''}`
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  other = await createTestPki()
  for (let i = 0; i < 2; i++) servers.push(await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }))
  for (let i = 0; i < CERTS; i++) pairs.push(pki.writePair(`id-${i}`, await pki.issue({ subject: `CN=id-${i}`, issuer: pki.inter, usages: ['clientAuth'] })))
  g = await startOpsGateway(pki.dir, yamlOf([]), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  for (const s of servers) await s.close()
  pki?.cleanup()
  other?.cleanup()
})

/** How an endpoint names its server: by name (`resolve`), by IP with one `serverName` or another, by IP alone. */
type Style = 'name' | 'localhost' | 'ip-sni' | 'ip-sni-localhost' | 'ip'

interface EndpointState {
  server: number
  style: Style
  keepAlive: '1ms' | '30s'
  tenancy: boolean
  /** Certificate index of the endpoint's bundle, and of each tenant with its own. */
  cert: number
  tenants: Partial<Record<Tenant, number>>
  /** The server anchors are the other PKI's root (the server's chain does not reach it). */
  distrusted: boolean
}

function urlOf(e: EndpointState): string {
  const port = servers[e.server]?.port as number
  const host = e.style === 'name' ? 'api.partner.test' : e.style === 'localhost' ? 'localhost' : '127.0.0.1'
  return `https://${host}:${port}${e.tenancy ? '/t/{tenant}' : ''}`
}

function tlsYaml(cert: number, distrusted: boolean, indent: string, extra: string): string {
  const p = pairs[cert] as { cert: string; key: string }
  // clientRoots: the local check of the client chain keeps its root when `roots` moves away.
  return [`cert: ${p.cert}`, `key: ${p.key}`, `intermediates: ${pki.file('inter.crt')}`, `roots: ${(distrusted ? other : pki).file('root.crt')}`, `clientRoots: ${pki.file('root.crt')}`, extra]
    .filter((l) => l !== '')
    .map((l) => `${indent}${l}\n`)
    .join('')
}

function yamlOf(eps: readonly EndpointState[]): string {
  if (eps.length === 0) return `endpoints:\n  - name: idle\n    url: https://api.partner.test:1\n    tls:\n${tlsYaml(0, false, '      ', '')}`
  return `endpoints:\n${eps
    .map((e, i) => {
      const sni = e.style === 'ip-sni' ? 'serverName: api.partner.test' : e.style === 'ip-sni-localhost' ? 'serverName: localhost' : ''
      const tenants = Object.entries(e.tenants)
        .map(([t, c]) => `      ${t}:\n        tls:\n${tlsYaml(c, e.distrusted, '          ', sni)}`)
        .join('')
      return `  - name: ep${i}\n    url: ${urlOf(e)}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    connections: 2\n    timeouts: { keepAlive: ${e.keepAlive} }\n    tls:\n${tlsYaml(e.cert, e.distrusted, '      ', sni)}${tenants ? `    tenants:\n${tenants}` : ''}`
    })
    .join('')}`
}

type Action =
  | { kind: 'request'; ep: number; tenant: Tenant; parallel: number }
  | { kind: 'rotate'; ep: number; tenant: Tenant }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'distrust'; ep: number }
  | { kind: 'renew'; ep: number; tenant: Tenant }
  | { kind: 'same' }

const endpointArb = fc.record({
  server: fc.integer({ min: 0, max: 1 }),
  style: fc.constantFrom<Style>('name', 'localhost', 'ip-sni', 'ip-sni-localhost', 'ip'),
  keepAlive: fc.constantFrom<'1ms' | '30s'>('1ms', '1ms', '30s'),
  tenancy: fc.boolean(),
  ownTenants: fc.subarray(['acme', 'globex'] as Tenant[]),
})
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('request' as const), ep: fc.nat(), tenant: fc.constantFrom(...TENANTS), parallel: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rotate' as const), ep: fc.nat(), tenant: fc.constantFrom(...TENANTS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('distrust' as const), ep: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('renew' as const), ep: fc.nat(), tenant: fc.constantFrom(...TENANTS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('same' as const) }) },
)

/** The certificate a request of endpoint `e` for `tenant` must present. */
const certFor = (e: EndpointState, tenant: Tenant): number => (e.tenancy ? e.tenants[tenant] : undefined) ?? e.cert

async function reload(eps: readonly EndpointState[]): Promise<void> {
  replaceFile(join(pki.dir, 'gateway.yaml'), yamlOf(eps))
  expect(await g.gw.ops?.reload('property')).toMatchObject({ ok: true })
}

let checked = 0
let resumedSeen = 0

describe('every request presents its own endpoint\'s current certificate, verified by its current anchors', () => {
  it('generated topologies, requests and reloads (fast-check, seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(endpointArb, { minLength: 2, maxLength: 5 }), fc.array(actionArb, { minLength: 4, maxLength: 24 }), async (shapes, actions) => {
        // Every bundle a certificate of its own (never one another bundle has now).
        const free = Array.from({ length: CERTS }, (_, i) => i)
        const take = (): number => free.shift() as number
        const give = (c: number): void => void free.push(c)
        const eps: EndpointState[] = shapes.map((s) => ({
          server: s.server, style: s.style, keepAlive: s.keepAlive, tenancy: s.tenancy, cert: take(), distrusted: false,
          tenants: s.tenancy ? Object.fromEntries(s.ownTenants.map((t) => [t, take()])) : {},
        }))
        await reload(eps)
        for (const a of actions) {
          if (a.kind === 'request') {
            const e = eps[a.ep % eps.length] as EndpointState
            const name = `ep${a.ep % eps.length}`
            const route = e.tenancy ? `${name}@${a.tenant}` : name
            const replies = await Promise.all(Array.from({ length: a.parallel }, () => send(g.gw.url, `/proxy/${route}/who`)))
            for (const r of replies) {
              checked++
              if (e.distrusted) {
                expect(r.status, `${route}: ${r.text}`).toBe(502)
                continue
              }
              expect(r.status, `${route}: ${r.text}`).toBe(200)
              const echo = r.json<EchoReply>()
              if (echo.resumed) resumedSeen++
              expect(echo.clientSubject, `${route} (resumed: ${echo.resumed})`).toBe(subjectOf(certFor(e, a.tenant)))
            }
          } else if (a.kind === 'rotate') {
            const e = eps[a.ep % eps.length] as EndpointState
            const own = e.tenants[a.tenant]
            if (e.tenancy && own !== undefined) {
              e.tenants[a.tenant] = take()
              give(own)
            } else {
              const old = e.cert
              e.cert = take()
              give(old)
            }
            await reload(eps)
          } else if (a.kind === 'swap') {
            const x = eps[a.a % eps.length] as EndpointState
            const y = eps[a.b % eps.length] as EndpointState
            ;[x.cert, y.cert] = [y.cert, x.cert]
            await reload(eps)
          } else if (a.kind === 'distrust') {
            const e = eps[a.ep % eps.length] as EndpointState
            e.distrusted = !e.distrusted
            await reload(eps)
          } else if (a.kind === 'renew') {
            // The bundle's files get a new key and certificate; its config text stays the same.
            const c = certFor(eps[a.ep % eps.length] as EndpointState, a.tenant)
            renewals[c] = (renewals[c] ?? 0) + 1
            pki.writePair(`id-${c}`, await pki.issue({ subject: subjectOf(c), issuer: pki.inter, usages: ['clientAuth'] }))
            await reload(eps)
          } else await reload(eps)
        }
      }),
      { seed: 20261205, numRuns: 30 },
    )
    // The runs did exercise resumed sessions, not only fresh handshakes.
    expect(checked).toBeGreaterThan(200)
    expect(resumedSeen).toBeGreaterThan(20)
  }, 240_000)
})
