/**
 * A gateway bearer never reaches an upstream, whoever's it is: bearers issued by the real
 * exchange (POST /gateway/token) and by the issuing function, embedded in generated header
 * names, header values (own headers, Cookie, the backend's Authorization) and URL positions
 * (path and query, as sent or percent-encoded), on every way in (route mode, the forward proxy,
 * an intercepted tunnel's inner requests), with `callers.required: false` so a caller may present
 * nothing, its own bearer, or another's. A real upstream records every request line and header
 * line it receives: no bearer ever arrives; a bearer in the URL is refused (400
 * credential_in_target) before any upstream call. Random 43-character base64url strings, which
 * are not bearers, pass through unchanged. Bearers are also sent in any letter case and joined by
 * "-" or "_" (`X-<bearer>` as a header name, `traceparent: 00-<bearer>-01`); as the tenant or the
 * user the gateway places into the URL (path, query, host: refused before anything is dialled or
 * looked up in DNS); and as X-Request-Id (replaced by a fresh id, which the backend receives and
 * the caller and the access log see). Before, a bearer that was not the request's own credential
 * went to the backend, as did one in the URL, one joined by "-"/"_", a case-folded one, one
 * placed as the tenant or user, and one sent as X-Request-Id was logged and echoed.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LookupAddress } from 'node:dns'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import type { RequestRecord } from '../../src/proxy/request-record.js'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { TunnelAgent, type TunnelOptions } from '../support/tunnel.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const RUNS = 2_000

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let tunnel: Omit<TunnelOptions, 'headers'>
/** Bearers from POST /gateway/token (live in the store) and from the issuing function (never stored). */
let exchanged: string[] = []
let minted: string[] = []
/** Every request the upstream received: its request line and raw header lines, by the case's marker. */
const received = new Map<string, string>()
const tunnels = new Map<string, TunnelAgent>()
/** Every access-log record, and every host name the gateway asked DNS for. */
const records: RequestRecord[] = []
const lookedUp: string[] = []
let upstreamConnections = 0

function record(req: IncomingMessage, res: ServerResponse): void {
  const lines = [`${req.method ?? ''} ${req.url ?? ''}`]
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}`)
  received.set(String(req.headers['x-case'] ?? `unmarked-${received.size}`), lines.join('\n'))
  req.resume()
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
}

async function exchange(sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: AUD, sub, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
  const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: record })
  upstream.server.on('connection', () => void upstreamConnections++)
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
callers:
  required: false
  bearerTtl: 1h
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}/base
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
  - name: tenanted
    url: https://api.partner.test:${upstream.port}/t/{tenant}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
  - name: tenanthost
    url: https://{tenant}.partner.test:${upstream.port}/h
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
  - name: userpath
    url: https://api.partner.test:${upstream.port}/u/{{who}}
    resolve: 127.0.0.1
    allowPrivate: true
    fields: [{ type: path, key: who, value: "{{user}}" }]
    tls: ${clientTlsYaml(pki)}
  - name: userquery
    url: https://api.partner.test:${upstream.port}/q
    resolve: 127.0.0.1
    allowPrivate: true
    fields: [{ type: query, key: uid, value: "v-{{user}}" }]
    tls: ${clientTlsYaml(pki)}
`, {
    onDone: (r) => void records.push(r),
    // DNS for the endpoint without `resolve`: recorded, answered with the local upstream.
    resolve: (host: string, _o: { all: true }, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
      lookedUp.push(host)
      cb(null, [{ address: '127.0.0.1', family: 4 }])
    },
  })
  tunnel = { gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${upstream.port}`, ca: readFileSync(ica.caCert) }
  exchanged = await Promise.all(Array.from({ length: 8 }, (_, i) => exchange(`user-${i}`)))
  minted = Array.from({ length: 8 }, () => newBearerToken())
})

afterAll(async () => {
  for (const agent of tunnels.values()) agent.destroy()
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

type Way = 'route' | 'forward' | 'tunnel'

/** A keep-alive tunnel per CONNECT credential: each run's inner request reuses it. */
function tunnelFor(presented: string | undefined): TunnelAgent {
  const key = presented ?? ''
  let agent = tunnels.get(key)
  if (agent === undefined) {
    agent = new TunnelAgent({ ...tunnel, headers: presented === undefined ? {} : { 'proxy-authorization': `Bearer ${presented}` } })
    tunnels.set(key, agent)
  }
  return agent
}

function inner(agent: TunnelAgent, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path, headers: { host: `api.partner.test:${upstream.port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Which bearer: one of the exchange's, or one of the issuing function's. */
const bearerPick = fc.record({ minted: fc.boolean(), index: fc.nat(7) })
type BearerPick = { minted: boolean; index: number }
const bearerOf = (p: BearerPick): string => ((p.minted ? minted : exchanged)[p.index] as string)
/** A letter case a hop may give it: as issued, lower-cased (Node's header names, a tenant, DNS), upper-cased. */
const casing = fc.constantFrom('as issued' as const, 'lower' as const, 'upper' as const)
type Casing = 'as issued' | 'lower' | 'upper'
const cased = (text: string, how: Casing): string => (how === 'lower' ? text.toLowerCase() : how === 'upper' ? text.toUpperCase() : text)

// Characters outside base64url that delimit a bearer: in header values, and in a URL path or query.
const VALUE_DELIMITERS = [' ', '=', ';', ',', '"', ':', '/', '.', '+', '~', '!', '{', '}', '[', ']', '(', ')', '\'', '*']
const word = fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/)
// Joined by "-" or "_", which extend a base64url run: `00-<bearer>-01`, `s_<bearer>`.
const JOINED_BEFORE = ['00-', 's_', 'a-b_', '-', '__']
const JOINED_AFTER = ['-01', '_x', '-', '_-_']
const before = fc.oneof(fc.constant(''), fc.tuple(fc.constantFrom('', 'Bearer', 'token', 'session', 'Basic x'), fc.constantFrom(...VALUE_DELIMITERS)).map(([w, d]) => w + d), fc.constantFrom(...JOINED_BEFORE))
const after = fc.oneof(fc.constant(''), fc.tuple(fc.constantFrom(...VALUE_DELIMITERS), word).map(([d, w]) => d + w), fc.constantFrom(...JOINED_AFTER))

/** A header carrying a bearer: in its value (under its own name, Cookie, the backend's Authorization, an API key) or in its name. */
const headerEmbed = fc.oneof(
  fc.record({ kind: fc.constant('value' as const), name: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/).map((n) => `x-e-${n}`), fc.constantFrom('cookie', 'x-api-key', 'authorization', 'traceparent')), before, after, bearer: bearerPick, casing }),
  fc.record({ kind: fc.constant('name' as const), name: fc.constantFrom('x.', 'X~', '', 'token!', 'X-', 'x_', 'X-Trace-'), suffix: fc.constantFrom('', '.id', '~2', '-Id', '_2'), bearer: bearerPick, casing }),
)
/** A bearer in the URL: a path segment or a query value, as sent or with some characters percent-encoded. */
const urlEmbed = fc.record({
  place: fc.constantFrom('path' as const, 'query' as const),
  before: fc.constantFrom('', 'k=', 'a.', 'x;', 'tokens/'),
  after: fc.constantFrom('', '/x', ';v=1', '.json', ','),
  key: fc.constantFrom('access_token', 'token', 't', 'state'),
  encoded: fc.option(fc.record({ at: fc.uniqueArray(fc.nat(42), { minLength: 1, maxLength: 43 }), lower: fc.boolean() }), { nil: undefined }),
  bearer: bearerPick,
  casing,
})
/** A random 43-character base64url string: not a bearer (a chance of about 2^-54), so it passes unchanged. */
const lookalike = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)

function percentEncoded(text: string, at: readonly number[], lower: boolean): string {
  const chosen = new Set(at)
  const escape = (c: string): string => `%${lower ? c.charCodeAt(0).toString(16) : c.charCodeAt(0).toString(16).toUpperCase()}`
  return [...text].map((c, i) => (chosen.has(i) ? escape(c) : c)).join('')
}

const requestCase = fc.record({
  presented: fc.option(fc.nat(7), { nil: undefined }),
  inAuthorization: fc.boolean(),
  headers: fc.uniqueArray(headerEmbed, { selector: (e) => (e.kind === 'value' ? e.name : `${e.name}|${e.suffix}`), maxLength: 3 }),
  url: fc.array(urlEmbed, { maxLength: 2 }),
  lookalikes: fc.array(fc.record({ value: lookalike, inUrl: fc.boolean(), delimiter: fc.constantFrom(' ', ';', '=', ',') }), { maxLength: 3 }),
})

let cases = 0

describe('no gateway bearer reaches an upstream, on every way in', () => {
  it.each(['route', 'forward', 'tunnel'] as const)(`%s: bearers in headers are removed, in the URL refused; lookalikes pass unchanged (${RUNS.toLocaleString('en')} runs)`, async (way: Way) => {
    await fc.assert(
      fc.asyncProperty(requestCase, async (c) => {
        const id = `case-${way}-${cases++}`
        const headers: Record<string, string> = { 'x-case': id }
        const presented = c.presented === undefined ? undefined : (exchanged[c.presented] as string)
        const all = [...exchanged, ...minted]
        for (const e of c.headers) {
          const bearer = cased(bearerOf(e.bearer), e.casing)
          // Route mode's Authorization: Bearer is the gateway's credential, judged at admission: covered by tunnel-callers.test.ts.
          if (e.kind === 'value' && !(way === 'route' && e.name === 'authorization')) headers[e.name] = `${e.before}${bearer}${e.after}`
          if (e.kind === 'name') headers[`${e.name}${bearer}${e.suffix}`] = 'present'
        }
        let path = '/v1/items'
        const query: string[] = []
        for (const [i, l] of c.lookalikes.entries()) {
          if (l.inUrl) query.push(`look${i}=${l.value}`)
          else headers[`x-look-${i}`] = `id${l.delimiter}${l.value}${l.delimiter}end`
        }
        for (const u of c.url) {
          const bearer = cased(bearerOf(u.bearer), u.casing)
          const spelled = u.encoded === undefined ? bearer : percentEncoded(bearer, u.encoded.at, u.encoded.lower)
          if (u.place === 'path') path += `/${u.before}${spelled}${u.after}`
          else query.push(`${u.key}=${spelled}`)
        }
        const target = `${path}${query.length > 0 ? `?${query.join('&')}` : ''}`
        if (presented !== undefined && way !== 'tunnel') headers[way === 'route' && c.inAuthorization ? 'authorization' : 'proxy-authorization'] = `Bearer ${presented}`
        const { status, text } =
          way === 'tunnel'
            ? await inner(tunnelFor(presented), target, headers)
            : await send(gw.url, way === 'route' ? `/proxy/partner${target}` : `http://api.partner.test:${upstream.port}${target}`, { headers })
        for (const b of all) expect(text, 'the answer never repeats a bearer').not.toContain(b)
        const seen = received.get(id)
        if (c.url.length > 0) {
          expect([status, JSON.parse(text)], text).toEqual([400, { errors: [{ msg: expect.stringMatching(/^the request target's (path|query) holds a gateway credential/), code: 400 }] }])
          return void expect(seen, 'nothing was sent upstream').toBeUndefined()
        }
        expect(status, text).toBe(200)
        expect(seen).toBeDefined()
        const arrived = (seen as string).toLowerCase()
        for (const b of all) expect(arrived, 'no bearer, in any letter case').not.toContain(b.toLowerCase())
        for (const [i, l] of c.lookalikes.entries()) {
          if (l.inUrl) expect(seen).toContain(`look${i}=${l.value}`)
          else expect(seen).toContain(`x-look-${i}: id${l.delimiter}${l.value}${l.delimiter}end`)
        }
      }),
      { seed: 0xbea2e2, numRuns: RUNS },
    )
  }, 600_000)

  it('the realistic leak: an open caller, or one with its own Proxy-Authorization, sending another bearer in Authorization on the forward proxy', async () => {
    const [own, other] = [exchanged[0] as string, exchanged[1] as string]
    const requests: Record<string, string>[] = [{ authorization: `Bearer ${other}` }, { 'proxy-authorization': `Bearer ${own}`, authorization: `Bearer ${other}` }]
    for (const headers of requests) {
      const id = `leak-${cases++}`
      const r = await send(gw.url, `http://api.partner.test:${upstream.port}/x`, { headers: { ...headers, 'x-case': id } })
      expect(r.status, r.text).toBe(200)
      expect(received.get(id)).not.toContain(other)
      expect(received.get(id)).not.toMatch(/^authorization:/im)
    }
  })

  it('a bearer the gateway would place into the URL (the tenant in the path or the host, the user in the path or the query), in any case, is refused: nothing dialled, no DNS lookup (1,000 runs)', async () => {
    const connectionsBefore = upstreamConnections
    const placement = fc.record({
      endpoint: fc.constantFrom('tenanted', 'tenanthost', 'userpath', 'userquery'),
      bearer: bearerPick,
      casing,
      // Route mode's `/proxy/<endpoint>@<tenant>/…` as well as the tenant header.
      inRoute: fc.boolean(),
      joined: fc.constantFrom('', 'a-', 'x_'),
    })
    await fc.assert(
      fc.asyncProperty(placement, async (p) => {
        const id = `placed-${cases++}`
        const bearer = cased(bearerOf(p.bearer), p.casing)
        const value = `${p.joined}${bearer}`
        const tenanted = p.endpoint === 'tenanted' || p.endpoint === 'tenanthost'
        const headers: Record<string, string> = { 'x-case': id }
        if (tenanted && !p.inRoute) headers['x-gateway-tenant'] = value
        if (!tenanted) headers['x-gateway-user'] = value
        const path = tenanted && p.inRoute ? `/proxy/${p.endpoint}@${value}/v1` : `/proxy/${p.endpoint}/v1`
        const r = await send(gw.url, path, { headers })
        expect(r.status, r.text).toBe(400)
        // A tenant that is no DNS label ("_", a leading "-") was never a URL's: refused as such.
        const label = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value.toLowerCase())
        if (!tenanted || label) expect(r.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/holds a gateway credential/)
        expect(r.text.toLowerCase()).not.toContain(bearerOf(p.bearer).toLowerCase())
        expect(received.get(id), 'nothing was sent upstream').toBeUndefined()
      }),
      { seed: 0x7e4a47, numRuns: 1_000 },
    )
    expect(upstreamConnections, 'nothing was dialled').toBe(connectionsBefore)
    expect(lookedUp, 'no DNS lookup').toEqual([])
    // The resolver above is the one the gateway asks: an ordinary tenant's host is looked up through it.
    await send(gw.url, '/proxy/tenanthost/v1', { headers: { 'x-gateway-tenant': 'acme', 'x-case': `placed-dns-${cases++}` } })
    expect(lookedUp).toContain('acme.partner.test')
    // The same endpoints reach the upstream with an ordinary tenant and user: the refusals above were the bearers'.
    for (const [endpoint, headers] of [['tenanted', { 'x-gateway-tenant': 'Acme' }], ['userpath', { 'x-gateway-user': 'alice' }], ['userquery', { 'x-gateway-user': 'alice' }]] as const) {
      const id = `placed-ok-${cases++}`
      const r = await send(gw.url, `/proxy/${endpoint}/v1`, { headers: { ...headers, 'x-case': id } })
      expect(r.status, r.text).toBe(200)
      expect(received.get(id)).toMatch(/^GET \/(t\/acme|u\/alice|q)\/v1(\?uid=v-alice)?\n/)
    }
  }, 600_000)

  it('X-Request-Id holding a bearer (any case, joined) or the request\'s own credential is replaced by a fresh id, which the backend, the caller and the log get (1,000 runs)', async () => {
    const idCase = fc.record({
      way: fc.constantFrom('route' as const, 'forward' as const),
      own: fc.boolean(),
      bearer: bearerPick,
      casing,
      before: fc.constantFrom('', 'req-', 'a_', 'x.', 'id:'),
      after: fc.constantFrom('', '-1', '_b', '.2', ':z'),
    })
    await fc.assert(
      fc.asyncProperty(idCase, async (c) => {
        const id = `rid-${cases++}`
        const presented = exchanged[c.bearer.index] as string
        // The own credential as sent; another bearer in any case.
        const inside = c.own ? presented : cased(bearerOf(c.bearer), c.casing)
        const headers: Record<string, string> = { 'x-case': id, 'x-request-id': `${c.before}${inside}${c.after}` }
        if (c.own) headers['proxy-authorization'] = `Bearer ${presented}`
        const logged = records.length
        const r = await send(gw.url, c.way === 'route' ? '/proxy/partner/rid' : `http://api.partner.test:${upstream.port}/rid`, { headers })
        expect(r.status, r.text).toBe(200)
        const echoed = String(r.headers['x-request-id'])
        expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        expect(received.get(id), 'the backend keeps the id').toContain(`\nx-request-id: ${echoed}`)
        await expect.poll(() => records.length).toBeGreaterThan(logged)
        const line = JSON.stringify(records.slice(logged)).toLowerCase()
        expect(line).not.toContain(inside.toLowerCase())
        expect(line).toContain(echoed)
      }),
      { seed: 0x4e9, numRuns: 1_000 },
    )
    // An ordinary id is kept, as before.
    const id = `rid-plain-${cases++}`
    const r = await send(gw.url, '/proxy/partner/rid', { headers: { 'x-case': id, 'x-request-id': 'order-42.retry:1' } })
    expect([r.status, r.headers['x-request-id']]).toEqual([200, 'order-42.retry:1'])
    expect(received.get(id)).toContain('\nx-request-id: order-42.retry:1')
  }, 600_000)

  it('every line the upstream received, over all runs: no bearer', () => {
    const everything = [...received.values()].join('\n').toLowerCase()
    expect(received.size).toBeGreaterThan(RUNS)
    for (const b of [...exchanged, ...minted]) expect(everything).not.toContain(b.toLowerCase())
    // Nor any access-log record (its id, tenant, error message).
    const logged = JSON.stringify(records).toLowerCase()
    for (const b of [...exchanged, ...minted]) expect(logged).not.toContain(b.toLowerCase())
  })
})
