/**
 * A request target's authority (absolute-form on the forward proxy and inside a tunnel, an inner
 * request's Host) is either read or refused with the 400: no spelling of it ends in another error.
 * An IPv6 literal with a zone (`[fe80::1%25eth0]`) passed node:net's isIPv6, then WHATWG URL threw
 * on it, and the request was a 500 internal error instead of the 400 its message promised.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { GatewayError } from '../../src/errors.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { parseAbsoluteForm, parseAuthority, parseTunnelTarget } from '../../src/proxy/request-target.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { openTunnel, rawExchange } from '../support/tunnel.js'
import { rawRoundTrip } from '../support/raw-client.js'

/** Read, or the 400: `undefined` when read, the reason when refused; anything else thrown fails the property. */
function outcomeOf(read: () => unknown): string | undefined {
  try {
    read()
    return undefined
  } catch (e) {
    if (e instanceof GatewayError) return e.reason
    throw e
  }
}

const zoned = fc.tuple(fc.ipV6(), fc.stringMatching(/^(?:%25)?[A-Za-z0-9._~-]{1,6}$/), fc.constantFrom('', ':443', ':8443')).map(([ip, zone, port]) => `[${ip}%${zone}]${port}`)
const authorityish = fc.array(fc.constantFrom('[', ']', ':', '%', '25', 'fe80', '::', '1', '.', 'a', 'Z', '@', '443', 'ffff', '127.0.0.1'), { maxLength: 10 }).map((parts) => parts.join(''))

describe('authority parsing', () => {
  it('a zoned IPv6 literal is the 400 wherever an authority is read (seeded property)', () => {
    fc.assert(
      fc.property(zoned, (authority) => {
        expect(outcomeOf(() => parseAuthority(authority))).toBe('bad_request')
        expect(outcomeOf(() => parseAbsoluteForm(`http://${authority}/x`))).toBe('bad_request')
        expect(outcomeOf(() => parseTunnelTarget(`https://${authority}/x`, 'api.partner.test:443'))).toBe('bad_request')
        expect(outcomeOf(() => parseTunnelTarget('/x', 'api.partner.test:443', authority))).toBe('bad_request')
      }),
      { seed: 0x3986, numRuns: 300 },
    )
  })

  it('any string of authority pieces is read or the 400, nothing else (seeded property)', () => {
    fc.assert(
      fc.property(authorityish, (authority) => {
        expect([undefined, 'bad_request']).toContain(outcomeOf(() => parseAuthority(authority)))
        expect([undefined, 'bad_request']).toContain(outcomeOf(() => parseAbsoluteForm(`http://${authority}/x`)))
      }),
      { seed: 0x3987, numRuns: 2000 },
    )
  })
})

/** A spelling of one of a few tunnel authorities: letter case, a trailing dot, the port or none. */
const tunnelHosts = ['api.partner.test', 'other.partner.test', '127.0.0.1', '[::1]', '[0:0::1]', '[::ffff:7f00:1]']
const spelled = fc.tuple(fc.constantFrom(...tunnelHosts), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }), fc.boolean(), fc.constantFrom('', ':443', ':8443', ':0443', ':', ':99999'))
  .map(([host, upper, dot, port]) => [...host].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('') + (dot && /[a-z]$/.test(host) ? '.' : '') + port)

/** What an inner request's Host is, read from parseAuthority alone: the tunnel's (served), another place (421) or no host[:port] (400). */
function modelHostOutcome(tunnelAuthority: string, host: string): string | undefined {
  if (host === tunnelAuthority) return undefined
  const tunnel = parseAuthority(tunnelAuthority)
  let named: { host: string; port?: number }
  try {
    named = parseAuthority(host)
  } catch {
    return 'bad_request'
  }
  return named.host === tunnel.host && (named.port ?? 443) === (tunnel.port ?? 443) ? undefined : 'misdirected_request'
}

describe('an inner request\'s Host', () => {
  it('is judged against the tunnel\'s authority as parsing both says, on a tunnel\'s first request and every later one (seeded property)', () => {
    const seen = new Set<string | undefined>()
    fc.assert(
      fc.property(spelled.filter((a) => outcomeOf(() => parseAuthority(a)) === undefined && /:\d+$/.test(a)), spelled, (tunnelAuthority, host) => {
        const expected = modelHostOutcome(tunnelAuthority, host)
        seen.add(expected)
        // Twice: the tunnel's authority is parsed once and kept, so the second reads what the first kept.
        for (let i = 0; i < 2; i++) expect(outcomeOf(() => parseTunnelTarget('/x', tunnelAuthority, host))).toBe(expected)
      }),
      { seed: 0x7a11, numRuns: 3000 },
    )
    expect([...seen].sort()).toEqual(['bad_request', 'misdirected_request', undefined].sort())
  })
})

describe('on the wire', () => {
  let pki: TestPki
  let upstream: RunningServer
  let gw: RunningGateway
  let ca: Buffer
  beforeAll(async () => {
    pki = await createTestPki('p256', ['api.partner.test'])
    upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
    ca = readFileSync(ica.caCert)
    gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`)
  })
  afterAll(async () => {
    await gw?.close()
    await upstream?.close()
    pki?.cleanup()
  })

  it('a zoned IPv6 target is the JSON 400 on the forward proxy and inside a tunnel, not a 500', async () => {
    const zone = 'zone identifiers are refused'
    const forward = await rawRoundTrip(gw.port, 'GET http://[fe80::1%25eth0]:443/x HTTP/1.1\r\nHost: [fe80::1%25eth0]:443\r\nConnection: close\r\n\r\n')
    expect([forward.status, JSON.parse(forward.body.toString('utf8')).errors[0].msg]).toEqual([400, expect.stringContaining(zone)])
    const tunnel = await openTunnel({ gatewayPort: gw.port, authority: `api.partner.test:${upstream.port}`, ca })
    const inner = await rawExchange(tunnel, `GET https://[::1%251]:${upstream.port}/x HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\nConnection: close\r\n\r\n`)
    expect([inner.status, JSON.parse(inner.body).errors[0].msg]).toEqual([400, expect.stringContaining(zone)])
  })
})
