/**
 * The console's same-origin check stands on its own, not only behind the admin listener's Host
 * check (421 admin_host_not_allowed): a POST is from the console only when Sec-Fetch-Site (if any)
 * is same-origin and Origin is present, not "null", names the scheme the listener serves (https
 * with admin.tls, else http), the host and port of Host, and a host the listener answers for (an
 * IP literal, localhost, admin.allowedHosts). A DNS-rebinding page sends its own name as both Host
 * and Origin: refused here too. An Origin listed in admin.consoleOrigins (the console published
 * through a TLS-terminating proxy) is accepted whatever the listener serves; any other scheme,
 * host or port of it is not. Seeded property over Origin × Host × Sec-Fetch-Site × TLS.
 */
import type { IncomingMessage } from 'node:http'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isSameOrigin } from '../../src/console/auth.js'

const ALLOWED = ['console.example']
const SERVED = ['127.0.0.1', 'localhost', '[::1]', 'console.example']
const NOT_SERVED = ['evil.example', 'console.example.evil.example', '127.0.0.1.nip.io', 'localhost.evil.example', 'rebind.attacker.test']
// admin.consoleOrigins as normalised (URL.origin), and near misses of them a page could send.
const CONFIGURED = ['https://gw-admin.example.com', 'http://proxy.example:8080']
const NEAR_CONFIGURED = [
  'http://gw-admin.example.com', 'https://gw-admin.example.com:8443', 'https://gw-admin.example.com:443', 'https://gw-admin.example.com.evil.example', 'https://evil-gw-admin.example.com',
  'https://GW-ADMIN.example.com', 'https://gw-admin.example.com/', 'https://proxy.example:8080', 'http://proxy.example', 'http://proxy.example:80800', 'http://proxy.example:8081',
  'https://gw-admin.example.com, https://evil.example', 'null',
]

interface Case {
  tls: boolean
  host: string | undefined
  origin: string | undefined
  site: string | undefined
}

function request(c: Case): IncomingMessage {
  const headers: Record<string, string> = {}
  const raw: string[] = []
  for (const [k, v] of [['host', c.host], ['origin', c.origin], ['sec-fetch-site', c.site]] as const) {
    if (v === undefined) continue
    headers[k] = v
    raw.push(k, v)
  }
  return { headers, rawHeaders: raw, socket: c.tls ? { encrypted: true } : {} } as unknown as IncomingMessage
}

const hostName = fc.constantFrom(...SERVED, ...NOT_SERVED)
const port = fc.option(fc.constantFrom(80, 443, 9090, 9091, 3000), { nil: undefined })
const hostValue = fc.tuple(hostName, port).map(([h, p]) => (p === undefined ? h : `${h}:${p}`))
const scheme = fc.constantFrom('http', 'https')
const originValue = fc.oneof(
  fc.tuple(scheme, hostValue).map(([s, h]) => `${s}://${h}`),
  fc.constantFrom(undefined, 'null', '', 'file://', 'http://127.0.0.1:9090, http://evil.example', 'HTTP://LOCALHOST:9090', 'http://localhost:9090/'),
  fc.constantFrom(...CONFIGURED, ...NEAR_CONFIGURED),
)
const site = fc.constantFrom(undefined, 'same-origin', 'same-site', 'cross-site', 'none', 'same-origin, cross-site')
const cases: fc.Arbitrary<Case> = fc.record({ tls: fc.boolean(), host: fc.option(hostValue, { nil: undefined }), origin: originValue, site })

const hostOf = (v: string): string => (v.startsWith('[') ? v.slice(0, v.indexOf(']') + 1) : v.split(':')[0] ?? '')
const portOf = (v: string, tls: boolean): number => {
  const m = /:(\d+)$/.exec(v.startsWith('[') ? v.slice(v.indexOf(']')) : v)
  return m ? Number(m[1]) : tls ? 443 : 80
}

describe('isSameOrigin (property)', () => {
  it('refuses any cross-site signal, a missing or null Origin, another scheme, port or host, and a host the listener does not answer for; accepts a browser\'s same-origin POST', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const ok = isSameOrigin(request(c), ALLOWED, CONFIGURED)
        const m = c.origin === undefined ? null : /^(https?):\/\/(.+)$/.exec(c.origin)
        if (c.site !== undefined && c.site !== 'same-origin') expect(ok).toBe(false)
        // A configured origin is the console's, whatever Host the proxy forwards and the listener serves.
        if (c.origin !== undefined && CONFIGURED.includes(c.origin)) {
          expect(ok).toBe(c.site === undefined || c.site === 'same-origin')
          return
        }
        if (c.origin !== undefined && NEAR_CONFIGURED.includes(c.origin)) expect(ok).toBe(false)
        if (!m || c.host === undefined) {
          expect(ok).toBe(false)
          return
        }
        const [, s = '', rest = ''] = m
        if (s !== (c.tls ? 'https' : 'http')) expect(ok).toBe(false)
        if (NOT_SERVED.includes(hostOf(rest))) expect(ok).toBe(false)
        if (hostOf(rest) !== hostOf(c.host) || portOf(rest, c.tls) !== portOf(c.host, c.tls)) expect(ok).toBe(false)
        // What a browser sends from a console page: Origin is the scheme plus Host, as served.
        const browser = c.origin === `${c.tls ? 'https' : 'http'}://${c.host}` && SERVED.includes(hostOf(c.host)) && (c.site === undefined || c.site === 'same-origin')
        if (browser) expect(ok).toBe(true)
        if (ok) expect(SERVED).toContain(hostOf(rest))
      }),
      { seed: 0x0c0501, numRuns: 4000 },
    )
  })

  it('a rebinding page (its own name as Host and Origin, same-origin by Fetch Metadata) is refused without the listener\'s Host check', () => {
    for (const tls of [false, true]) {
      for (const name of NOT_SERVED) {
        const h = `${name}:9090`
        expect(isSameOrigin(request({ tls, host: h, origin: `${tls ? 'https' : 'http'}://${h}`, site: 'same-origin' }), ALLOWED)).toBe(false)
        expect(isSameOrigin(request({ tls, host: h, origin: `${tls ? 'https' : 'http'}://${h}`, site: undefined }), ALLOWED)).toBe(false)
      }
    }
    // A name listed in admin.allowedHosts is served, compared without case or trailing dot as the listener does.
    expect(isSameOrigin(request({ tls: false, host: 'Console.Example:9090', origin: 'http://console.example:9090', site: 'same-origin' }), ALLOWED)).toBe(true)
    expect(isSameOrigin(request({ tls: false, host: 'console.example.:9090', origin: 'http://console.example.:9090', site: 'same-origin' }), ALLOWED)).toBe(true)
    // A POST with Sec-Fetch-Site: same-origin but no Origin is no browser's: every browser sends Origin on a POST.
    expect(isSameOrigin(request({ tls: false, host: '127.0.0.1:9090', origin: undefined, site: 'same-origin' }), ALLOWED)).toBe(false)
    // Another port of the same address is same-site (a SameSite=Strict cookie goes along), not same-origin.
    expect(isSameOrigin(request({ tls: false, host: '127.0.0.1:9090', origin: 'http://127.0.0.1:3000', site: undefined }), ALLOWED)).toBe(false)
    // The default port written or not is the same origin.
    expect(isSameOrigin(request({ tls: true, host: 'localhost:443', origin: 'https://localhost', site: 'same-origin' }), ALLOWED)).toBe(true)
  })

  it('behind a TLS-terminating proxy: the configured https origin is accepted on a plain-http listener, only when configured', () => {
    const proxied = { tls: false, host: 'gw-admin.example.com', origin: 'https://gw-admin.example.com', site: 'same-origin' }
    expect(isSameOrigin(request(proxied), ['gw-admin.example.com'])).toBe(false)
    expect(isSameOrigin(request(proxied), ['gw-admin.example.com'], ['https://gw-admin.example.com'])).toBe(true)
    // The proxy may forward another Host (a Service name): the Origin decides, not Host or X-Forwarded-*.
    expect(isSameOrigin(request({ ...proxied, host: 'mtls-gateway-admin:9090' }), [], ['https://gw-admin.example.com'])).toBe(true)
    expect(isSameOrigin(request({ ...proxied, site: 'cross-site' }), [], ['https://gw-admin.example.com'])).toBe(false)
  })
})
