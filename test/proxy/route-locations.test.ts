/**
 * Route mode maps a backend's own URLs in Location, Content-Location, Link and Refresh onto the
 * gateway's route for the endpoint (src/proxy/route-locations.ts), as nginx's
 * `proxy_redirect default` does: a real mTLS backend answers 301/302/303/307/308 and 201, curl -L
 * follows a redirect chain through the gateway to the final resource, references outside the
 * base path or on other origins never land on a route, and forward-proxy responses keep the
 * backend's values. Seeded properties compare the caller's resolution of what it gets with the
 * upstream resolution of what the backend sent.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { routeReference, type RouteScope } from '../../src/proxy/route-locations.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { TunnelAgent } from '../support/tunnel.js'

const run = promisify(execFile)
const HOPS = [301, 302, 303, 307, 308]

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let origin: string
let ca: Buffer

/** `/base/hop/<n>` redirects (status HOPS[n]) in turn with an absolute, an absolute-path and a relative-path reference; otherwise x-location/x-status/x-link/x-refresh say what to answer. */
function backend(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0] as string
  const hop = /^\/base\/hop\/(\d+)$/.exec(path)
  if (hop) {
    const n = Number(hop[1])
    const next = n + 1 < HOPS.length ? `hop/${n + 1}` : 'final'
    const location = [`${origin}/base/${next}`, `/base/${next}`, n + 1 < HOPS.length ? String(n + 1) : '../final'][n % 3] as string
    res.writeHead(HOPS[n] as number, { location, 'content-length': 0 })
    return void res.end()
  }
  const decode = (h: string | string[] | undefined): string | undefined => (typeof h === 'string' ? Buffer.from(h, 'base64url').toString('latin1') : undefined)
  const headers: Record<string, string> = {}
  for (const name of ['location', 'content-location', 'link', 'refresh']) {
    const v = decode(req.headers[`x-${name}`])
    if (v !== undefined) headers[name] = v
  }
  const body = JSON.stringify({ path, method: req.method })
  res.writeHead(Number(req.headers['x-status'] ?? 200), { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: backend })
  origin = `https://api.partner.test:${upstream.port}`
  const ep = (name: string, path: string): string => `  - name: ${name}\n    url: ${origin}${path}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${ep('a', '/base')}${ep('root', '')}${ep('t', '/t/{tenant}')}${ep('p', '/d/{{acct}}/x')}    fields: [{ type: path, key: acct, value: ACC42 }]\n${ep('q', '/base')}    fields: [{ type: query, key: api_key, value: KEY-31337 }]\n${ep('tilde', '/~team/v1')}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64url')

/** The headers the caller gets when the backend behind `route` answers `status` with these URI headers. */
async function answered(route: string, status: number, sent: Record<string, string>): Promise<Record<string, string | string[] | undefined>> {
  const headers: Record<string, string> = { 'x-status': String(status) }
  for (const [name, v] of Object.entries(sent)) headers[`x-${name}`] = b64(v)
  const r = await send(gw.url, route, { headers })
  expect(r.status, r.text).toBe(status)
  return r.headers
}

describe('route mode: a backend\'s own URLs become the endpoint\'s route', () => {
  for (const status of [...HOPS, 201]) {
    it(`${status}: absolute same-origin and absolute-path references under the base path`, async () => {
      const h = await answered('/proxy/a/items', status, { location: `${origin}/base/next?x=1#f`, 'content-location': '/base/items/7' })
      expect([h.location, h['content-location']]).toEqual(['/proxy/a/next?x=1#f', '/proxy/a/items/7'])
    })
  }

  it('curl -L follows a chain of 301, 302, 303, 307 and 308 through the gateway to the final resource', async () => {
    const { stdout } = await run('curl', ['-sS', '-L', '--max-redirs', '10', '-w', '\n%{url_effective} %{num_redirects} %{http_code}', `${gw.url}/proxy/a/hop/0`])
    const [body, last] = stdout.split('\n')
    expect(JSON.parse(body as string)).toEqual({ path: '/base/final', method: 'GET' })
    expect(last).toBe(`${gw.url}/proxy/a/final ${HOPS.length} 200`)
  })

  it('a base path the backend spells in an equivalent percent-encoding (RFC 3986 §6.2.2) is the base path', async () => {
    for (const [sent, got] of [[`/%7Eteam/v1/next`, '/proxy/tilde/next'], [`${origin}/%7eteam/v%31/n?x=%7e#f`, '/proxy/tilde/n?x=%7e#f'], ['/~team/%76%31/', '/proxy/tilde/']]) {
      expect((await answered('/proxy/tilde/items', 302, { location: sent as string })).location, sent).toBe(got)
    }
    // Not the same segment (a reserved character's encoding is not its character): the absolute upstream URL, off the route.
    expect((await answered('/proxy/tilde/items', 302, { location: '/~team%2Fv1/next' })).location).toBe(`${origin}/~team%2Fv1/next`)
  })

  it('references outside the base path or on other origins never land on a route', async () => {
    const cases: [string, string][] = [
      ['/admin', `${origin}/admin`],
      ['/base/../admin', `${origin}/admin`],
      ['/base/%2e%2e/admin', `${origin}/admin`],
      ['../../proxy/root/x', `${origin}/proxy/root/x`],
      ['/base', `${origin}/base`],
      ['https://other.test/base/x', 'https://other.test/base/x'],
      [`http://api.partner.test:${upstream.port}/base/x`, `http://api.partner.test:${upstream.port}/base/x`],
      ['https://api.partner.test/base/x', 'https://api.partner.test/base/x'],
    ]
    for (const [sent, got] of cases) expect((await answered('/proxy/a/d/e', 302, { location: sent })).location, sent).toBe(got)
  })

  it('relative, dot-segment and network-path references that resolve under the base path', async () => {
    const cases: [string, string][] = [
      ['f', '/proxy/a/d/f'],
      ['../g?y=2', '/proxy/a/g?y=2'],
      ['?page=2', '/proxy/a/d/e?page=2'],
      ['/base/x/../y', '/proxy/a/y'],
      [`//api.partner.test:${upstream.port}/base/z`, '/proxy/a/z'],
      [`HTTPS://API.Partner.Test:${upstream.port}/base/%7Ez`, '/proxy/a/%7Ez'],
      ['/base/%252e%252e/x', '/proxy/a/%252e%252e/x'],
    ]
    for (const [sent, got] of cases) expect((await answered('/proxy/a/d/e', 302, { location: sent })).location, sent).toBe(got)
    // A doubly encoded dot-segment stays under the route, where the gateway refuses it (it never climbs).
    expect((await send(gw.url, '/proxy/a/%252e%252e/x')).status).toBe(400)
  })

  it('a tenant segment in the base path, an endpoint at the origin\'s root', async () => {
    expect((await answered('/proxy/t@acme/x', 303, { location: '/t/acme/y' })).location).toBe('/proxy/t@acme/y')
    expect((await answered('/proxy/t@acme/x', 303, { location: '/t/globex/y' })).location).toBe(`${origin}/t/globex/y`)
    expect((await answered('/proxy/root/x', 302, { location: `${origin}/anything` })).location).toBe('/proxy/root/anything')
  })

  it('a path field in the base path: this request\'s value maps, another does not, and a value is never shown', async () => {
    expect((await answered('/proxy/p/q', 302, { location: '/d/ACC42/x/next' })).location).toBe('/proxy/p/next')
    expect((await answered('/proxy/p/q', 302, { location: `${origin}/d/ACC42/x/next` })).location).toBe('/proxy/p/next')
    expect((await answered('/proxy/p/q', 302, { location: '/d/OTHER/x/next' })).location).toBe(`${origin}/d/OTHER/x/next`)
    // Resolved upstream it is /d/ACC42/y: made absolute, it would show the field's value, so it stays as sent.
    expect((await answered('/proxy/p/q', 302, { location: '../y' })).location).toBe('../y')
  })

  it('after the query scrub: a mapped Location still loses the query field the gateway added', async () => {
    const h = await answered('/proxy/q/items?x=1', 302, { location: `${origin}/base/items/?x=1&api_key=KEY-31337`, link: '</base/items?x=1&api_key=KEY-31337&page=2>; rel="next"' })
    expect([h.location, h.link]).toEqual(['/proxy/q/items/?x=1', '</proxy/q/items?x=1&page=2>; rel="next"'])
  })

  it('Link targets and a Refresh URL too', async () => {
    const h = await answered('/proxy/a/list', 200, { link: `<${origin}/base/list?page=2>; rel="next", <https://docs.test/x>; rel="help"`, refresh: `0; url=${origin}/base/done` })
    expect([h.link, h.refresh]).toEqual(['</proxy/a/list?page=2>; rel="next", <https://docs.test/x>; rel="help"', '0; url=/proxy/a/done'])
  })

  const unmapped = (): Record<string, string> => ({ 'x-status': '302', 'x-location': b64(`${origin}/base/next`), 'x-content-location': b64('/base/y') })

  it('the forward proxy keeps the backend\'s values', async () => {
    const r = await send(gw.url, `${origin.replace('https', 'http')}/base/x`, { headers: unmapped() })
    expect([r.status, r.headers.location, r.headers['content-location']]).toEqual([302, `${origin}/base/next`, '/base/y'])
  })

  it('so does a CONNECT-intercepted request', async () => {
    const agent = new TunnelAgent({ gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${upstream.port}`, ca })
    try {
      const got = await new Promise<[number | undefined, unknown, unknown]>((resolve, reject) => {
        httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path: '/base/x', headers: unmapped() }, (res) => {
          res.resume()
          res.on('end', () => resolve([res.statusCode, res.headers.location, res.headers['content-location']]))
        }).on('error', reject).end()
      })
      expect(got).toEqual([302, `${origin}/base/next`, '/base/y'])
    } finally {
      agent.destroy()
    }
  })
})

/** A generated URI reference, built from pieces that hit the edges (dot-segments, encodings, other origins, the route prefix). */
function references(upstreamOrigin: string): fc.Arbitrary<string> {
  const lead = fc.constantFrom('', '', '/', upstreamOrigin, upstreamOrigin.toUpperCase(), upstreamOrigin.replace('https:', 'http:'), upstreamOrigin.replace('https:', ''), 'https://other.test', 'https:', '\\\\other.test', '/\\other.test', upstreamOrigin.replace(/:\d+$/, ''))
  const segment = fc.constantFrom('base', 'base', 'other', 'proxy', 'a', 'x', '..', '.', '%2e%2e', '.%2E', '%2e', '%252e%252e', 'b%2Fc', '', '\\..', 'sp ce', ';p=1', '%7e', 'A')
  const tail = fc.constantFrom('', '', '?q=1', '?', '#f', '?a=%2F#x')
  return fc.tuple(lead, fc.array(segment, { maxLength: 5 }), tail).map(([l, segs, t]) => `${l}${l === '' || l.endsWith('/') || l.endsWith(':') ? '' : '/'}${segs.join('/')}${t}`)
}

/** The property's check: `got` (what the caller received for `sent`), resolved as the caller does, against what `sent` means upstream. */
function checkMapping(sent: string, got: string, upstreamUrl: string, upstreamBase: string, callerUrl: string, prefix: string): void {
  let meant: URL | undefined
  try {
    meant = new URL(sent, upstreamUrl)
  } catch {
    meant = undefined
  }
  const upstream = new URL(upstreamUrl)
  const under = meant !== undefined && meant.origin === upstream.origin && meant.pathname.startsWith(`${upstreamBase}/`)
  if (meant === undefined) return void expect(got).toBe(sent)
  const caller = new URL(callerUrl)
  const reached = new URL(got, callerUrl)
  const onRoute = reached.origin === caller.origin && reached.pathname.startsWith(`${prefix}/`)
  expect(onRoute, `${sent} → ${got}`).toBe(under)
  if (under) expect(upstream.origin + upstreamBase + reached.href.slice(caller.origin.length + prefix.length), `${sent} → ${got}`).toBe(meant.href)
  else {
    // Off the route: nowhere on the gateway's /proxy/, and where it changed, the very URL the backend meant.
    expect(reached.origin === caller.origin && reached.pathname.startsWith('/proxy/'), `${sent} → ${got}`).toBe(false)
    if (got !== sent) expect(got).toBe(meant.href)
  }
}

describe('property: the caller reaches the route exactly when the backend meant the endpoint\'s base path (seeded)', () => {
  it('routeReference, 5,000 generated references', () => {
    const scope: RouteScope = { prefix: '/proxy/a', origin: 'https://api.test:8443', base: '/base', configuredBase: '/base', requestUrl: 'https://api.test:8443/base/d/e?c=1' }
    fc.assert(
      fc.property(references('https://api.test:8443'), fc.constantFrom('http://gw.test:8080', 'https://gw.test'), (sent, gateway) => {
        checkMapping(sent, routeReference(sent, scope), scope.requestUrl, '/base', `${gateway}/proxy/a/d/e?c=1`, '/proxy/a')
      }),
      { seed: 0x10c47, numRuns: 5_000 },
    )
  })

  it('through the gateway and a real backend, 150 generated Locations', async () => {
    await fc.assert(
      fc.asyncProperty(references(origin), fc.constantFrom('/x', '/d/e/', '/'), fc.constantFrom('', '?c=1'), async (sent, rest, query) => {
        const got = (await answered(`/proxy/a${rest}${query}`, 302, { location: sent })).location as string
        checkMapping(sent, got, `${origin}/base${rest}${query}`, '/base', `${gw.url}/proxy/a${rest}${query}`, '/proxy/a')
      }),
      { seed: 0x10c48, numRuns: 150 },
    )
  }, 120_000)
})

/** `segment` with each character kept, or percent-encoded in lower- or upper-case hex. */
function spellings(segment: string): fc.Arbitrary<string> {
  const hex = (c: string): string => (c.codePointAt(0) as number).toString(16).padStart(2, '0')
  return fc.tuple(...[...segment].map((c) => fc.constantFrom(c, `%${hex(c)}`, `%${hex(c).toUpperCase()}`))).map((cs) => cs.join(''))
}

/** A path segment as RFC 3986 §6.2.2 compares it (the test's own reading: unreserved decoded, other hex upper-case). */
const normalised = (path: string): string => path.replace(/%[0-9a-f]{2}/gi, (t) => {
  const c = String.fromCharCode(Number.parseInt(t.slice(1), 16))
  return /[A-Za-z0-9\-._~]/.test(c) ? c : t.toUpperCase()
})

describe('property: a base path spelled in another percent-encoding of its unreserved characters is the base path (RFC 3986 §6.2.2.2, seeded)', () => {
  it('routeReference, 3,000 generated spellings: on the route exactly when strictly under the base path, with the rest as sent', () => {
    const scope: RouteScope = { prefix: '/proxy/a', origin: 'https://api.test', base: '/~team/v1.2', configuredBase: '/~team/v1.2', requestUrl: 'https://api.test/~team/v1.2/d?c=1' }
    const lead = fc.constantFrom('', 'https://api.test', 'https://API.test:443')
    const odd = fc.constantFrom('', '', '', '~team%2F', 'x')
    const rest = fc.constantFrom('', '/', '/next', '/n%7e/x', '/%2f', '/a?q=%7E', '/b#f%7e', '?q=1')
    fc.assert(
      fc.property(lead, spellings('~team'), spellings('v1.2'), odd, rest, (l, team, version, wrong, tail) => {
        const sent = `${l}/${wrong === '~team%2F' ? wrong : team}/${version}${wrong === 'x' ? 'x' : ''}${tail}`
        const got = routeReference(sent, scope)
        const under = wrong === '' && tail.startsWith('/')
        expect(got.startsWith('/proxy/'), `${sent} → ${got}`).toBe(under)
        if (under) expect(got, sent).toBe(`/proxy/a${tail}`)
        // Off the route: the URL the backend meant, absolute (it would resolve elsewhere on the gateway), or as sent.
        else expect(normalised(new URL(got, scope.requestUrl).href), sent).toBe(normalised(new URL(sent, scope.requestUrl).href))
      }),
      { seed: 0x7e7e, numRuns: 3_000 },
    )
  })
})
