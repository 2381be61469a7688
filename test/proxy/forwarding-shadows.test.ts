/**
 * The forwarding headers the gateway sets or strips, in every spelling a CGI-style backend (PHP,
 * WSGI, Rack, lighttpd) keys the same: with X-Forwarded-For off no client address reaches it
 * under HTTP_X_FORWARDED_FOR, HTTP_FORWARDED or HTTP_X_REAL_IP (`X_Forwarded_For`, `x-real.ip`);
 * with it on, only the gateway's chain; HTTP_X_REQUEST_ID is only the gateway's id and HTTP_VIA
 * only its Via. Off, X-Client-IP, True-Client-IP, Client-IP, X-Forwarded, Forwarded-For and
 * X-Cluster-Client-IP go too; X-Original-URL, X-Rewrite-URL, X-Forwarded-Uri, X-Original-Uri and
 * X-Forwarded-Path (routing headers) and X-Forwarded-Host
 * and the other headers naming an origin go on or off; on, a caller's Forwarded keeps only its
 * `for`/`by` nodes (here never: `caller-N` is no Forwarded value). Every other header stays; and with nothing to remove the step copies nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { addForwardingHeaders } from '../../src/proxy/steps/forwarding-headers.js'
import { cgiVariable } from './parser-models.js'

const VIA = '1.1 mtls-gateway'
const GATEWAY_ID = 'gw-request-id'

interface Setup { via: boolean; xForwardedFor: boolean; remoteAddress?: string }

function run(s: Setup, headers: OutboundHeaders): Admitted {
  const ctx = {
    gateway: { config: { forwarding: { via: s.via, xForwardedFor: s.xForwardedFor } } },
    inbound: { headers: {}, ...(s.remoteAddress !== undefined ? { remoteAddress: s.remoteAddress } : {}) },
    outbound: { headers },
  } as unknown as Admitted
  void addForwardingHeaders.run(ctx)
  return ctx
}

/** What a CGI backend reads: each HTTP_* variable with the values of every header keyed so. */
function cgiRead(headers: OutboundHeaders): Map<string, string[]> {
  const read = new Map<string, string[]>()
  for (const [name, value] of Object.entries(headers)) read.set(cgiVariable(name), [...(read.get(cgiVariable(name)) ?? []), ...(Array.isArray(value) ? value : [value])])
  return read
}

const ADDRESS_VARIABLES = ['HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED', 'HTTP_X_REAL_IP', 'HTTP_X_CLIENT_IP', 'HTTP_TRUE_CLIENT_IP', 'HTTP_CLIENT_IP', 'HTTP_X_FORWARDED', 'HTTP_FORWARDED_FOR', 'HTTP_X_CLUSTER_CLIENT_IP']
// Removed whether X-Forwarded-For is on or off: the URL a backend routes by is the gateway's.
const ORIGIN = ['x-forwarded-host', 'x-host', 'x-original-host', 'x-forwarded-server', 'x-forwarded-prefix', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-scheme', 'x-forwarded-ssl', 'x-url-scheme', 'front-end-https']
// The request URL or path in the names proxies and servers pass it under: IIS (X-Original-URL,
// X-Rewrite-URL), Traefik forward-auth (X-Forwarded-Uri), nginx auth_request (X-Original-Uri).
const ROUTING = ['x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-original-uri', 'x-forwarded-path']
const ROUTING_VARIABLES = [...ROUTING.map(cgiVariable), ...ORIGIN.map(cgiVariable)]
const GATEWAY_VARIABLES = ['HTTP_X_REQUEST_ID', 'HTTP_VIA', 'HTTP_TRACEPARENT', 'HTTP_TRACESTATE', ...ADDRESS_VARIABLES]

describe('forwarding headers in every spelling', () => {
  it('the review\'s examples: X_Forwarded_For, x-real.ip and X_Request_Id go; the originals are not edited in place', () => {
    const headers: OutboundHeaders = { X_Forwarded_For: '6.6.6.6', 'x-real.ip': '6.6.6.6', x_real_ip: '6.6.6.6', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', x_request_id: 'spoof', 'x-request-id': GATEWAY_ID, accept: '*/*' }
    const ctx = run({ via: true, xForwardedFor: false }, headers)
    expect(ctx.outbound.headers).toEqual({ 'x-request-id': GATEWAY_ID, accept: '*/*', via: VIA })
    expect(Object.keys(headers)).toHaveLength(8) // a filtered copy, never `delete` on the caller's object
    const on = run({ via: false, xForwardedFor: true, remoteAddress: '10.0.0.7' }, { 'X.Forwarded.For': '6.6.6.6', 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '5.5.5.5' })
    expect(on.outbound.headers).toEqual({ 'x-forwarded-for': '1.2.3.4, 10.0.0.7', 'x-real-ip': '5.5.5.5' })
  })

  it('X-Client-IP, True-Client-IP, Client-IP, X-Forwarded, Forwarded-For and X-Cluster-Client-IP go with the address off; X-Original-URL, X-Rewrite-URL, X-Forwarded-Uri, X-Original-Uri and X-Forwarded-Path always', () => {
    const address = { 'x-client-ip': '6.6.6.6', 'true-client-ip': '6.6.6.6', client_ip: '6.6.6.6', 'x-forwarded': 'for=6.6.6.6', 'Forwarded-For': '6.6.6.6', 'x-cluster-client-ip': '6.6.6.6' }
    const routing = { 'x-original-url': '/admin', X_Rewrite_Url: '/admin', 'x-rewrite-url': '/admin', 'x-forwarded-host': 'evil.test', X_Forwarded_Prefix: '/admin', 'x-host': 'evil.test', 'x.original.host': 'evil.test', 'x-forwarded-proto': 'http', 'X-Forwarded-Uri': '/admin', x_original_uri: '/admin', 'x-forwarded-path': '/admin' }
    expect(run({ via: false, xForwardedFor: false }, { ...address, ...routing, accept: '*/*' }).outbound.headers).toEqual({ accept: '*/*' })
    expect(run({ via: false, xForwardedFor: true, remoteAddress: '10.0.0.7' }, { ...address, ...routing }).outbound.headers).toEqual({ ...address, 'x-forwarded-for': '10.0.0.7' })
  })

  it('with nothing to remove, the headers object is the same one (no copy, no delete)', () => {
    const headers: OutboundHeaders = { accept: '*/*', 'user-agent': 'bot', 'content-type': 'application/json', 'x-request-id': GATEWAY_ID, 'accept-encoding': 'gzip', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }
    const ctx = run({ via: true, xForwardedFor: false }, headers)
    expect(ctx.outbound.headers).toBe(headers)
    expect(headers.via).toBe(VIA)
  })

  const SEPARATORS = ['-', '_', '.', '~', '!', '#', '$', '%', '&', "'", '*', '+', '^', '`', '|']
  const spelling = (name: string): fc.Arbitrary<string> =>
    fc.tuple(...[...name].map((c) => (c === '-' ? fc.constantFrom(...SEPARATORS) : fc.constantFrom(c, c.toUpperCase())))).map((cs) => cs.join(''))
  const ADDRESS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'client-ip', 'x-forwarded', 'forwarded-for', 'x-cluster-client-ip']
  const NAMES = [...ADDRESS, 'x-request-id', 'via', 'traceparent', 'tracestate', ...ROUTING, ...ORIGIN]
  const UNRELATED = ['accept', 'x-forwarded-hosts', 'x-hostname', 'x-forwarded-fors', 'x-real-ipv6', 'content-type', 'user-agent', 'x-request-ids', 'x-via', 'accept-encoding', 'x-client-ips', 'client-ipv4', 'x-original-urls', 'x-rewrite', 'x-forwarded-protocol', 'x-forwarded-uris', 'x-original-uri-b', 'x-forwarded-paths']
  const headerName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAMES).chain(spelling) }, { weight: 1, arbitrary: fc.constantFrom(...NAMES, ...UNRELATED) })
  const setup = fc.record({ via: fc.boolean(), xForwardedFor: fc.boolean(), remoteAddress: fc.option(fc.constantFrom('10.0.0.7', '::1'), { nil: undefined }) })

  it('for any caller headers with CGI spellings of each name: a CGI backend reads only the gateway\'s values (or none), and every other header stays (5,000 cases)', () => {
    let spoofed = 0
    fc.assert(
      fc.property(setup, fc.uniqueArray(headerName, { maxLength: 10 }), (s, names) => {
        const caller: OutboundHeaders = Object.fromEntries(names.map((n, i) => [n, `caller-${i}`]))
        const headers: OutboundHeaders = { ...caller, 'x-request-id': GATEWAY_ID } // as the listener sets it
        if (names.some((n) => n !== n.toLowerCase() || /[^a-z0-9-]/.test(n))) spoofed++
        const sent = run(s, { ...headers }).outbound.headers
        const read = cgiRead(sent)
        const exact = (name: string): string | undefined => caller[name] as string | undefined
        expect(read.get('HTTP_X_REQUEST_ID')).toEqual([GATEWAY_ID])
        if (s.via) expect(read.get('HTTP_VIA')).toEqual([exact('via') === undefined ? VIA : `${exact('via') as string}, ${VIA}`])
        const remote = s.xForwardedFor ? s.remoteAddress : undefined
        for (const v of ROUTING_VARIABLES) expect(read.get(v), v).toBeUndefined()
        if (remote === undefined) for (const v of ADDRESS_VARIABLES) expect(read.get(v), v).toBeUndefined()
        else {
          expect(read.get('HTTP_X_FORWARDED_FOR')).toEqual([exact('x-forwarded-for') === undefined ? remote : `${exact('x-forwarded-for') as string}, ${remote}`])
          expect(read.get('HTTP_FORWARDED')).toBeUndefined() // `caller-N` names no node: nothing of it travels
        }
        // A name the gateway sets or strips travels under one spelling at most: its own. (With the
        // address on, the address headers but X-Forwarded-For and Forwarded are the caller's, as sent.)
        const governed = [...ROUTING_VARIABLES, ...(remote === undefined ? GATEWAY_VARIABLES : GATEWAY_VARIABLES.filter((v) => !ADDRESS_VARIABLES.includes(v) || v === 'HTTP_X_FORWARDED_FOR' || v === 'HTTP_FORWARDED'))]
        for (const v of governed) expect((read.get(v) ?? []).length, v).toBeLessThanOrEqual(1)
        for (const name of Object.keys(sent)) if (governed.includes(cgiVariable(name))) expect(NAMES, name).toContain(name)
        // Everything a backend reads under any other name is exactly what the caller sent.
        for (const [name, value] of Object.entries(caller)) if (!governed.includes(cgiVariable(name))) expect(sent[name], name).toBe(value)
      }),
      { seed: 20261903, numRuns: 5000 },
    )
    expect(spoofed).toBeGreaterThan(2500)
  })
})
