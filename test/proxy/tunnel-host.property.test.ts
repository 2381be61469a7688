/**
 * Inside an intercepted tunnel an origin-form request names its host in Host (RFC 9112 §3.3), as
 * an absolute-form one names it in its target. A Host naming any other place than the tunnel's
 * host and port (another configured endpoint, a host that is none, a loopback address) is the
 * same 421 as such an absolute-form target (RFC 9110 §7.4, §15.5.20: the target URI does not
 * match the connection it came on; it was a 400), and no backend sees the request: served, it went
 * to the tunnel's endpoint, with that endpoint's client certificate, as if it were for it. A Host
 * that is no host[:port] is a 400 (RFC 9112 §3.2).
 * Spellings of the tunnel's own authority (letter case, a trailing dot, the port written out or
 * not when it is 443, a canonical IPv6 literal) are served.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { parseTunnelTarget } from '../../src/proxy/request-target.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { openTunnel, rawExchange } from '../support/tunnel.js'

let pki: TestPki
let partner: RunningServer
let other: RunningServer
let gw: RunningGateway
let ca: Buffer
let partnerHits = 0
let P = 0
let O = 0

beforeAll(async () => {
  pki = await createTestPki('p256', ['api.partner.test', 'other.partner.test'])
  const files = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }
  partner = await startMtlsServer({ ...files, handler: (req, res) => (partnerHits++, echo(req, res)) })
  other = await startMtlsServer(files)
  ;[P, O] = [partner.port, other.port]
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const ep = (name: string, url: string): string => `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${ep('partner', `https://api.partner.test:${P}`)}${ep('other', `https://other.partner.test:${O}`)}`)
})

afterAll(async () => {
  await gw?.close()
  await partner?.close()
  await other?.close()
  pki?.cleanup()
})

interface HostSpelling { name: string; upper: boolean[]; dot: boolean; port: 'tunnel' | 'other' | '443' | 'none' | 'empty' }

/** A Host value: one of a few hosts, letters in either case, maybe a trailing dot, and a port (or none). */
const hosts = (): fc.Arbitrary<HostSpelling> =>
  fc.record({
    // The tunnel's own host and port weigh more, so that both answers come up in every run.
    name: fc.oneof({ arbitrary: fc.constant('api.partner.test'), weight: 6 }, fc.constantFrom('other.partner.test', 'evil.example', '127.0.0.1', 'localhost', '[::1]', 'api.partner.test.evil.example', 'partner.test')),
    upper: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    dot: fc.boolean(),
    port: fc.oneof({ arbitrary: fc.constant('tunnel' as const), weight: 4 }, fc.constantFrom('other' as const, '443' as const, 'none' as const, 'empty' as const)),
  })

function hostText(h: HostSpelling): string {
  const name = [...h.name].map((c, i) => (h.upper[i] ? c.toUpperCase() : c)).join('') + (h.dot && /[a-z]$/.test(h.name) ? '.' : '')
  const port = { tunnel: `:${P}`, other: `:${O}`, '443': ':443', none: '', empty: ':' }[h.port]
  return name + port
}

/** The rule: the tunnel's host (any case, one trailing dot) with the tunnel's port written out. */
const namesTunnel = (h: HostSpelling): boolean => h.name === 'api.partner.test' && h.port === 'tunnel'

describe('Host of an inner request', () => {
  it('is served exactly when it names the tunnel\'s host and port; otherwise the 421 and no backend sees it (seeded property)', async () => {
    const seen = { served: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(hosts(), async (h) => {
        const before = partnerHits
        const socket = await openTunnel({ gatewayPort: gw.port, authority: `api.partner.test:${P}`, ca })
        const r = await rawExchange(socket, `GET /v1/x HTTP/1.1\r\nHost: ${hostText(h)}\r\nConnection: close\r\n\r\n`)
        if (namesTunnel(h)) {
          expect(r.status, r.body).toBe(200)
          expect(partnerHits).toBe(before + 1)
          seen.served++
        } else {
          seen.refused++
          expect(r.status, `${hostText(h)}: ${r.body}`).toBe(421)
          expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: `the Host header names ${hostText(h)}, but this tunnel is for api.partner.test:${P}`, code: 421 }] })
          expect(partnerHits).toBe(before)
        }
      }),
      { seed: 0x9113, numRuns: 40 },
    )
    expect(seen.served).toBeGreaterThan(3)
    expect(seen.refused).toBeGreaterThan(3)
    expect(other.stats.handshakes).toBe(0)
  }, 180_000)

  it('HTTP/1.0 without Host is served; absolute-form goes by its target (RFC 9112 §3.2.2: Host is ignored then)', async () => {
    const ok = async (request: string): Promise<void> => expect((await rawExchange(await openTunnel({ gatewayPort: gw.port, authority: `api.partner.test:${P}`, ca }), request)).status).toBe(200)
    await ok('GET /v1/x HTTP/1.0\r\n\r\n')
    await ok(`GET https://api.partner.test:${P}/v1/x HTTP/1.1\r\nHost: other.partner.test:${O}\r\nConnection: close\r\n\r\n`)
    expect(other.stats.handshakes).toBe(0)
  })

  it('port 443 may go unwritten, and an IPv6 literal is compared in its canonical form', () => {
    expect(parseTunnelTarget('/x', 'api.partner.test:443', 'API.partner.test.').path).toBe('/x')
    expect(parseTunnelTarget('/x', 'api.partner.test:443', 'api.partner.test:443').path).toBe('/x')
    expect(parseTunnelTarget('/x', '[::1]:8443', '[0:0::1]:8443').path).toBe('/x')
    expect(parseTunnelTarget('/x', '[::ffff:7f00:1]:443', '[::ffff:127.0.0.1]').path).toBe('/x')
    expect(() => parseTunnelTarget('/x', '[::1]:8443', '[::1]')).toThrow(/the Host header names \[::1\], but this tunnel is for \[::1\]:8443/)
    expect(() => parseTunnelTarget('/x', '[::ffff:7f00:1]:443', '127.0.0.1')).toThrow(/the Host header names/)
    // No host[:port] at all: an invalid Host (400), not another host (421).
    expect(() => parseTunnelTarget('/x', 'api.partner.test:443', 'api.partner.test..')).toThrow(/the Host header api\.partner\.test\.\. is not a host\[:port\]/)
    expect(() => parseTunnelTarget('/x', 'api.partner.test:443', 'api%2epartner.test')).toThrow(/the Host header api%2epartner\.test is not a host\[:port\]/)
  })
})
