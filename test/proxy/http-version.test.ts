/**
 * RFC 9110 §15.6.6 on every way in of the real gateway process (plain listener, TLS listener, the
 * inner requests of an intercepted tunnel, the admin listener; CONNECT too): a request line naming
 * a version other than HTTP/1.0 or 1.1 gets the JSON 505 with a correct Content-Length and
 * Connection: close. Node's parser reads HTTP/0.9 and HTTP/2.0 request lines and the gateway
 * served them (a CONNECT HTTP/2.0 was tunnelled); other versions (HTTP/3.0, HTTP/1.2) it refuses
 * itself, and they were a 400 "malformed". A malformed version (HTTP/1.1x, HTTP/12.0) stays a 400.
 * Refusals are access lines and requests_total samples like any other.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { expectJsonError, startWaysIn, type Answer, type Way, type WaysIn } from '../support/ways-in.js'
import { entriesWhen } from '../support/log-entries.js'
import { eventually, scrape, valueOf } from '../ops/helpers.js'

let ways: WaysIn
let plain: GatewayProcess
let P = 0

beforeAll(async () => {
  ways = await startWaysIn()
  ;({ plain, port: P } = ways)
}, 120_000)

afterAll(async () => {
  await ways?.stop()
})

/** The 505's message for `version` (HTTP/1.2…1.9 say that a later HTTP/1 minor version is not read either). */
const unsupported = (version: string): RegExp =>
  new RegExp(`^HTTP/${version.replace('.', '\\.')} is not supported${version.startsWith('1.') ? ' \\(a later HTTP/1 minor version is not read here either\\)' : ''}: this gateway serves HTTP/1\\.1 and HTTP/1\\.0; send the request as HTTP/1\\.1 \\(RFC 9110, section 15\\.6\\.6\\)$`)
const MALFORMED = /^malformed HTTP request \(HPE_INVALID_VERSION\): the version must be HTTP\/1\.1 or HTTP\/1\.0$/

function expect505(a: Answer, version: string): void {
  expectJsonError(a, 505, unsupported(version))
  expect(a.head).toMatch(/\r\nconnection: close/)
}

type Method = 'GET' | 'POST' | 'CONNECT'

/** A request head on `way` that is served when its version is 1.0 or 1.1: a call reaching the partner (or /healthz on the admin listener), or a CONNECT. */
function headText(way: Way, method: Method, version: string): string {
  const target = method === 'CONNECT' ? `api.partner.test:${P}` : way === 'admin' ? '/healthz' : way === 'tunnel' ? '/v1/x' : '/proxy/partner/v1/x'
  const body = method === 'POST' ? 'Content-Length: 0\r\n' : ''
  const close = method === 'CONNECT' ? '' : 'Connection: close\r\n'
  return `${method} ${target} HTTP/${version}\r\nHost: ${way === 'admin' ? '127.0.0.1' : `api.partner.test:${P}`}\r\n${body}${close}\r\n`
}

/** What a head with a supported version gets: a CONNECT opens its tunnel on the listeners (405 where none is served); a POST to the admin listener is 405. */
function servedStatus(way: Way, method: Method): number {
  if (method === 'CONNECT') return way === 'plain' || way === 'tls' ? 200 : 405
  return way === 'admin' && method === 'POST' ? 405 : 200
}

const WAYS = ['plain', 'tls', 'tunnel', 'admin'] as const

describe('a version the gateway does not serve', () => {
  // First: the lines of this file's later requests must not be among those it reads.
  it('an access line and a requests_total sample each, CONNECT and others, parsed or refused by the parser', async () => {
    const admin = await adminUrlOf(plain)
    const from = plain.output.length
    const labels = { endpoint: '_none', method: 'CONNECT', status_class: '5xx' }
    const all5xx = async (): Promise<number> => (await scrape(admin)).filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.status_class === '5xx').reduce((n, s) => n + s.value, 0)
    const before = valueOf(await scrape(admin), 'mtls_gateway_requests_total', labels) ?? 0
    const before5xx = await all5xx()
    expect505(await ways.ask('plain', headText('plain', 'CONNECT', '2.0')), '2.0')
    expect505(await ways.ask('plain', headText('plain', 'GET', '2.0')), '2.0')
    expect505(await ways.ask('plain', headText('plain', 'GET', '3.0')), '3.0')
    const lines = await entriesWhen(plain, (e) => e.msg === 'request' && e.status === 505, 3, { from, what: 'the three 505 access lines' })
    for (const line of lines) expect(line).toMatchObject({ reason: 'http_version_not_supported', error: expect.stringMatching(/^HTTP\/[23]\.0 is not supported/) })
    expect(lines.map((l) => l.method)).toContain('CONNECT')
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_requests_total', labels) === before + 1, 15_000, 'the CONNECT requests_total sample')
    await eventually(async () => (await all5xx()) === before5xx + 3, 15_000, 'three 5xx requests_total samples')
  })

  it.each(WAYS)('%s: HTTP/2.0, HTTP/0.9 (Node parses both), HTTP/3.0 and HTTP/1.2 (Node refuses both) get the JSON 505, GET and CONNECT', async (way) => {
    for (const method of ['GET', 'CONNECT'] as const) {
      for (const version of ['2.0', '0.9', '3.0', '1.2']) expect505(await ways.ask(way, headText(way, method, version)), version)
      expect((await ways.ask(way, headText(way, method, '1.1'))).status).toBe(servedStatus(way, method))
    }
  })

  it('the HTTP/2 connection preface (prior knowledge, no h2c here) gets the 505 for HTTP/2.0', async () => {
    expect505(await ways.ask('plain', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), '2.0')
  })

  it.each(WAYS)('%s: a version split across reads is still the 505 (named when its digits come in one piece)', async (way) => {
    const head = headText(way, 'GET', '3.0')
    const at = head.indexOf('3.0') + 2
    const a = await ways.ask(way, [head.slice(0, at), head.slice(at)])
    expectJsonError(a, 505, /^(HTTP\/3\.0|this HTTP version) is not supported: this gateway serves HTTP\/1\.1 and HTTP\/1\.0; send the request as HTTP\/1\.1 \(RFC 9110, section 15\.6\.6\)$/)
    expect(a.head).toMatch(/\r\nconnection: close/)
  })

  it('a malformed version stays a 400', async () => {
    for (const version of ['1.1x', '12.0', '2', '1.10']) expectJsonError(await ways.ask('plain', headText('plain', 'GET', version)), 400, MALFORMED)
  })

})

describe('any version on every way in (seeded property)', () => {
  // Every HTTP/DIGIT.DIGIT (RFC 9112 §2.3's grammar), most of them outside what Node's parser reads.
  const versions = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 })).map(([a, b]) => `${a}.${b}`)
  const cases = fc.record({ way: fc.constantFrom(...WAYS), method: fc.constantFrom<Method>('GET', 'POST', 'CONNECT'), version: fc.oneof(versions, fc.constantFrom('1.0', '1.1', '2.0', '0.9')) })

  it('served exactly for HTTP/1.0 and 1.1; the JSON 505 with Connection: close for any other', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ way, method, version }) => {
        const a = await ways.ask(way, headText(way, method, version))
        if (version === '1.0' || version === '1.1') expect(a.status).toBe(servedStatus(way, method))
        else expect505(a, version)
      }),
      { seed: 0x9110, numRuns: 80 },
    )
  }, 240_000)
})
