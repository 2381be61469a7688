/**
 * RFC 9112 §3.2 on every way in of the real gateway process (plain listener, TLS listener, the
 * inner requests of an intercepted tunnel, the admin listener): an HTTP/1.1 request without Host, one with two Host
 * lines, or one whose Host is empty or no `host[:port]` gets the JSON 400 with a correct
 * Content-Length, a CONNECT too (Node checks none of it for a CONNECT, and the gateway tunnelled
 * one without Host). An HTTP/1.0 request may lack Host. Inside a tunnel, an origin-form request whose
 * valid Host names another host than the tunnel's is a 421 (RFC 9110 §7.4; it was a 400). Refused CONNECTs are access lines and
 * requests_total samples like any other.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { expectJsonError, startWaysIn, type Answer, type Way, type WaysIn } from '../support/ways-in.js'
import { entriesWhen } from '../support/log-entries.js'
import { eventually, scrape, valueOf } from '../ops/helpers.js'

let ways: WaysIn
let plain: GatewayProcess
let secure: GatewayProcess
let P = 0

beforeAll(async () => {
  ways = await startWaysIn()
  ;({ plain, secure, port: P } = ways)
}, 120_000)

afterAll(async () => {
  await ways?.stop()
})

const ask = (way: Way, head: string): Promise<Answer> => ways.ask(way, head)

/** The JSON 400 with a correct Content-Length and a message matching `msg`. */
const expect400 = (a: Answer, msg: RegExp): void => expectJsonError(a, 400, msg)

const MISSING = /^an HTTP\/1\.1 request must carry a Host header \(RFC 9112, section 3\.2\)/
const REPEATED = /^Host appears more than once in the request/
const EMPTY = /^the Host header is empty: it must name the host the request is for \(RFC 9112, section 3\.2\)$/
const INVALID = /^the Host header is not a host\[:port\] \(RFC 9112, section 3\.2\)$/
const OTHER_HOST = /^the Host header names .*, but this tunnel is for api\.partner\.test:\d+$/

describe('CONNECT without Host', () => {
  it('HTTP/1.1: the JSON 400 on the plain and the TLS listener (it was tunnelled), one access line and one requests_total sample each', async () => {
    for (const gp of [plain, secure]) {
      const way = gp === plain ? 'plain' : 'tls'
      const from = gp.output.length
      const admin = await adminUrlOf(gp)
      const before = valueOf(await scrape(admin), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' }) ?? 0
      const a = await ask(way, `CONNECT api.partner.test:${P} HTTP/1.1\r\n\r\n`)
      expect400(a, /^an HTTP\/1\.1 request must carry a Host header \(RFC 9112, section 3\.2\), a CONNECT too: send Host with its host:port$/)
      expect(a.head).toMatch(/\r\nconnection: close/)
      const [line] = await entriesWhen(gp, (e) => e.method === 'CONNECT' && e.status === 400, 1, { from, what: `the ${way} CONNECT's access line` })
      expect(line).toMatchObject({ msg: 'request', mode: 'connect', reason: 'bad_request', error: expect.stringMatching(MISSING) })
      await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' }) === before + 1, 15_000, 'the requests_total sample')
    }
  })

  it('HTTP/1.0: accepted (RFC 9112 requires Host of HTTP/1.1 only), the tunnel opens', async () => {
    expect((await ask('plain', `CONNECT api.partner.test:${P} HTTP/1.0\r\n\r\n`)).status).toBe(200)
    expect((await ask('tls', `CONNECT api.partner.test:${P} HTTP/1.0\r\n\r\n`)).status).toBe(200)
  })

  it('inside an intercepted tunnel: the 400 before the 405 a CONNECT gets there', async () => {
    expect400(await ask('tunnel', `CONNECT api.partner.test:${P} HTTP/1.1\r\n\r\n`), MISSING)
    expect((await ask('tunnel', `CONNECT api.partner.test:${P} HTTP/1.1\r\nHost: api.partner.test:${P}\r\n\r\n`)).status).toBe(405)
  })

  it('on the admin listener: the same 400 before its 405, and a bad Host on its routes', async () => {
    expect400(await ask('admin', 'CONNECT api.partner.test:443 HTTP/1.1\r\n\r\n'), MISSING)
    expect((await ask('admin', 'CONNECT api.partner.test:443 HTTP/1.1\r\nHost: api.partner.test:443\r\n\r\n')).status).toBe(405)
    expect400(await ask('admin', 'GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n'), INVALID)
    expect400(await ask('admin', 'GET /healthz HTTP/1.1\r\nHost:\r\n\r\n'), EMPTY)
    expect((await ask('admin', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nConnection: close\r\n\r\n')).status).toBe(200)
  })
})

const VALID = (): string[] => [`api.partner.test:${P}`, 'api.partner.test', `127.0.0.1:${P}`, '[::1]:8443', 'localhost:', 'API.Partner.Test.']
const BAD = ['a b', 'api.partner.test/v1', 'user@api.partner.test', '[::1', 'api.partner.test:80:80', 'h\xe9st', 'a"b', ':443']

interface Head { method: string; version: '1.0' | '1.1'; hosts: { name: string; value: string }[]; absolute: boolean }

/** A request head on `way`: a CONNECT to the partner, or a call that reaches it (route mode, absolute-form, or origin-form in a tunnel). */
function headText(way: Way, h: Head): string {
  const target = h.method === 'CONNECT' ? `api.partner.test:${P}` : way === 'tunnel' ? (h.absolute ? `https://api.partner.test:${P}/v1/x` : '/v1/x') : h.absolute ? `http://api.partner.test:${P}/v1/x` : '/proxy/partner/v1/x'
  const body = h.method === 'POST' ? 'Content-Length: 0\r\n' : ''
  const close = h.method === 'CONNECT' ? '' : 'Connection: close\r\n'
  return `${h.method} ${target} HTTP/${h.version}\r\n${h.hosts.map((l) => `${l.name}: ${l.value}\r\n`).join('')}${body}${close}\r\n`
}

/**
 * The rule: which refusal a head gets, or undefined when it is accepted. Inside a tunnel, an
 * origin-form request's valid Host must name the tunnel's host and port too, else the 421
 * (tunnel-host.property.test.ts): it names the host the request is for.
 */
function refusalOf(way: Way, h: Head): RegExp | undefined {
  if (h.hosts.length > 1) return REPEATED
  const [one] = h.hosts
  if (one === undefined) return h.version === '1.1' ? MISSING : undefined
  if (one.value === '') return EMPTY
  if (!VALID().includes(one.value)) return INVALID
  const inner = way === 'tunnel' && h.method !== 'CONNECT' && !h.absolute
  return inner && one.value !== `api.partner.test:${P}` ? OTHER_HOST : undefined
}

describe('any request head, on every way in (seeded property)', () => {
  const heads = (): fc.Arbitrary<Head> =>
    fc.record({
      method: fc.constantFrom('CONNECT', 'GET', 'POST', 'DELETE', 'OPTIONS'),
      version: fc.constantFrom('1.0' as const, '1.1' as const),
      hosts: fc.array(fc.record({ name: fc.constantFrom('Host', 'host', 'HOST'), value: fc.constantFrom(...VALID(), '', ...BAD) }), { maxLength: 3 }),
      absolute: fc.boolean(),
    })

  it.each(['plain', 'tls', 'tunnel'] as const)('%s: the 400 exactly when Host is missing (HTTP/1.1), repeated, empty or invalid, inside a tunnel the 421 when it names another place; otherwise served', async (way) => {
    await fc.assert(
      fc.asyncProperty(heads(), async (h) => {
        const a = await ask(way, headText(way, h))
        const refusal = refusalOf(way, h)
        if (refusal) return expectJsonError(a, refusal === OTHER_HOST ? 421 : 400, refusal)
        // Served: a CONNECT opens its tunnel (inside one, a CONNECT is 405), any other call reaches the partner.
        expect(a.status).toBe(h.method === 'CONNECT' && way === 'tunnel' ? 405 : 200)
      }),
      { seed: 0x9112, numRuns: 60 },
    )
  }, 180_000)
})
