/**
 * Credentials go only to the configured host: whatever CONNECT authority a caller writes and
 * whatever its inner requests name (Host, absolute-form target, none), an upstream call goes to
 * the endpoint the CONNECT authority matched and to no other. Three endpoints on three real mTLS
 * servers; each server counts the requests it gets. A CONNECT that matches nothing is refused
 * (403, 400) and nothing is called; an inner request naming another host or port is the 421
 * (RFC 9110 §7.4), one that is no host[:port] the 400, and neither reaches any server. Nothing
 * dialled comes from generated input: the gateway dials only its endpoints' configured URLs
 * (their names pinned to 127.0.0.1 by `resolve`), so no network namespace is needed.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { ConnectRefused, openTunnel, rawExchange } from '../support/tunnel.js'

let pki: TestPki
let gw: RunningGateway
let ca: Buffer
const servers: Record<string, RunningServer> = {}
const hits: Record<string, number> = { partner: 0, other: 0, byip: 0 }
const port = (name: string): number => servers[name]?.port ?? 0

beforeAll(async () => {
  pki = await createTestPki('p256', ['api.partner.test', 'other.partner.test', '127.0.0.1'])
  const files = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }
  for (const name of Object.keys(hits)) servers[name] = await startMtlsServer({ ...files, handler: (req, res) => ((hits[name] = (hits[name] ?? 0) + 1), echo(req, res)) })
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const ep = (name: string, url: string, pinned = true): string => `  - name: ${name}\n    url: ${url}\n${pinned ? '    resolve: 127.0.0.1\n' : ''}    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${ep('partner', `https://api.partner.test:${port('partner')}`)}${ep('other', `https://other.partner.test:${port('other')}`)}${ep('byip', `https://127.0.0.1:${port('byip')}`, false)}`)
})

afterAll(async () => {
  await gw?.close()
  for (const s of Object.values(servers)) await s.close()
  pki?.cleanup()
})

/** A place a caller may name: one of the endpoints' hosts (or none of them) and one of their ports. */
interface Place { host: string; port: string; upper: boolean; dot: boolean }
const HOSTS = ['api.partner.test', 'other.partner.test', '127.0.0.1', '127.1', '0x7f.0.0.1', 'localhost', 'evil.example', '[::1]', 'api.partner.test.evil.example']
const OWN: readonly [string, string][] = [['api.partner.test', 'partner'], ['other.partner.test', 'other'], ['127.0.0.1', 'byip']]
/** Half the time an endpoint's own host and port (in some spelling), so that every outcome comes up. */
const places = (): fc.Arbitrary<Place> => fc.oneof(
  fc.record({ own: fc.constantFrom(...OWN), upper: fc.boolean(), dot: fc.boolean() }).map(({ own, upper, dot }) => ({ host: own[0], port: own[1], upper, dot })),
  fc.record({ host: fc.constantFrom(...HOSTS), port: fc.constantFrom('partner', 'other', 'byip', '443'), upper: fc.boolean(), dot: fc.boolean() }),
)
const text = (p: Place): string => {
  const name = (p.upper ? p.host.toUpperCase() : p.host) + (p.dot && /[a-z]$/i.test(p.host) ? '.' : '')
  return `${name}:${p.port === '443' ? 443 : port(p.port)}`
}
/** The endpoint a place names, by the gateway's documented rules (case and one trailing dot of a name aside; IPv4 as dotted-decimal only). */
function endpointOf(p: Place): string | undefined {
  const owner = { 'api.partner.test': 'partner', 'other.partner.test': 'other', '127.0.0.1': 'byip' }[p.host]
  return owner !== undefined && owner === p.port ? owner : undefined
}

type Inner = { kind: 'host'; place: Place } | { kind: 'absolute'; place: Place } | { kind: 'none' } | { kind: 'invalid' }
const inners = (): fc.Arbitrary<Inner> => fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('host' as const), place: places() }), weight: 3 },
  fc.record({ kind: fc.constant('absolute' as const), place: places() }),
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'invalid' as const }),
)

function request(i: Inner, own: string): string {
  if (i.kind === 'none') return 'GET /v1/x HTTP/1.0\r\n\r\n'
  if (i.kind === 'invalid') return 'GET /v1/x HTTP/1.1\r\nHost: api%2epartner.test\r\nConnection: close\r\n\r\n'
  if (i.kind === 'absolute') return `GET https://${text(i.place)}/v1/x HTTP/1.1\r\nHost: ${own}\r\nConnection: close\r\n\r\n`
  return `GET /v1/x HTTP/1.1\r\nHost: ${text(i.place)}\r\nConnection: close\r\n\r\n`
}

describe('CONNECT authority × inner request (seeded property)', () => {
  it('an upstream call only ever reaches the endpoint the CONNECT authority matched', async () => {
    const seen = { refused: 0, served: 0, misdirected: 0, invalid: 0 }
    await fc.assert(
      fc.asyncProperty(places(), inners(), async (target, inner) => {
        const before = { ...hits }
        const matched = endpointOf(target)
        let status: number
        try {
          const tls = await openTunnel({ gatewayPort: gw.port, authority: text(target), ca })
          status = (await rawExchange(tls, request(inner, text(target)))).status
        } catch (e) {
          if (!(e instanceof ConnectRefused)) throw e
          expect(matched, `${text(target)} refused: ${e.raw}`).toBeUndefined()
          expect(e.status).toBe(403)
          seen.refused++
          expect(hits).toEqual(before)
          return
        }
        expect(matched, `${text(target)} was tunnelled`).toBeDefined()
        const named = inner.kind === 'host' || inner.kind === 'absolute' ? endpointOf(inner.place) : matched
        if (inner.kind === 'invalid') (seen.invalid++, expect(status).toBe(400))
        else if (named === matched) (seen.served++, expect(status).toBe(200))
        else (seen.misdirected++, expect(status).toBe(421))
        // The one call made, if any, went to the CONNECT's endpoint.
        expect(hits).toEqual(status === 200 ? { ...before, [matched as string]: (before[matched as string] ?? 0) + 1 } : before)
      }),
      { seed: 0x421c, numRuns: 80 },
    )
    expect(Object.values(seen).every((n) => n > 2), JSON.stringify(seen)).toBe(true)
  }, 180_000)
})
