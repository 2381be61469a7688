/**
 * Review rev-e: a backend that redirects keeps the query it was sent, so its Location,
 * Content-Location or Link handed the caller the endpoint's query fields (an API key) and, with
 * query placement, the OAuth parameters. Those parameters are removed from the response's URIs
 * in every spelling a backend reads as them; every other byte stays.
 */
import fc from 'fast-check'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { scrubEchoedQueryFields, withoutDropped } from '../../src/proxy/echoed-fields.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { parameterMatcher } from '../../src/proxy/parameter-names.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const SECRET = 'QSECRET-7731'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

/** Redirects to the URL it was sent with a trailing slash, keeping the query, as many servers do. */
function redirect(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const moved = q === -1 ? `${url}/` : `${url.slice(0, q)}/${url.slice(q)}`
  const abs = `https://api.partner.test${moved}`
  // An HTML-era redirect: no Location, only Refresh (PHP's header('Refresh: 0; url=…')); and an SPA's fragment route.
  if (url.startsWith('/spa')) {
    res.writeHead(200, { refresh: `0; url=${abs}`, 'content-length': 0 })
    return void res.end()
  }
  if (url.startsWith('/frag')) {
    res.writeHead(302, { location: `https://app.partner.test/#/cb${url.slice(q)}`, 'content-length': 0 })
    return void res.end()
  }
  res.writeHead(301, { location: abs, 'content-location': moved, link: `<${abs}&page=2>; rel="next", <${moved}#top>; rel="self"`, 'content-length': 0 })
  res.end()
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: redirect })
  const tls = clientTls(pki)
  gw = await startTestGateway(pki.dir, `callers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, tls, `    fields: [{ type: query, key: api_key, value: "${SECRET}" }]\n`)}${endpointYaml('plain', upstream.port, tls)}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('a redirect that echoes the query the gateway built', () => {
  it('does not hand the caller the query field, on every way in that reaches the endpoint', async () => {
    // In route mode the backend's own paths then become the endpoint's route (route-locations.test.ts).
    for (const [target, own] of [['/proxy/partner/v1/x?a=1&b=%2F', '/proxy/partner'], [`http://api.partner.test:${upstream.port}/v1/x?a=1&b=%2F`, '']]) {
      const r = await send(gw.url, target as string)
      expect(r.status).toBe(301)
      const all = JSON.stringify(r.headers)
      expect(all).not.toContain(SECRET)
      expect(r.headers.location).toBe('https://api.partner.test/v1/x/?a=1&b=%2F')
      expect(r.headers['content-location']).toBe(`${own}/v1/x/?a=1&b=%2F`)
      expect(r.headers.link).toBe(`<https://api.partner.test/v1/x/?a=1&b=%2F&page=2>; rel="next", <${own}/v1/x/?a=1&b=%2F#top>; rel="self"`)
    }
  })

  it('nor in a Refresh header, or a fragment route (review rev-i)', async () => {
    const refresh = await send(gw.url, '/proxy/partner/spa/x?a=1')
    expect(refresh.headers.refresh).toBe('0; url=https://api.partner.test/spa/x/?a=1')
    const frag = await send(gw.url, '/proxy/partner/frag/x?a=1')
    expect(frag.headers.location).toBe('https://app.partner.test/#/cb?a=1')
    expect(JSON.stringify([refresh.headers, frag.headers])).not.toContain(SECRET)
  })

  it('leaves the URIs of an endpoint without query fields as the backend sent them', async () => {
    const r = await send(gw.url, '/proxy/plain/v1/x?a=1&api_key=mine')
    expect(r.headers.location).toBe('https://api.partner.test/v1/x/?a=1&api_key=mine')
  })
})

describe('withoutDropped', () => {
  const drop = parameterMatcher(['api_key'])
  const piece = fc.oneof(
    fc.constantFrom('api_key=s', 'API_KEY=s', 'api%5Fkey=s', 'api_key[]=s', 'api_key', 'a=1', 'b=%2F', 'x=api_key', '', 'api_keys=1', 'c=%3F'),
    fc.stringMatching(/^[a-z]{1,4}=[a-z0-9%]{0,4}$/),
  )
  it('removes every piece read as the field and keeps every other byte (10,000 cases)', () => {
    fc.assert(
      fc.property(fc.constantFrom('https://h/p', '/p', 'p', ''), fc.array(piece, { maxLength: 6 }), fc.constantFrom('&', ';'), fc.option(fc.constantFrom('#f', '#a?api_key=1')), (base, pieces, sep, hash) => {
        const query = pieces.join(sep)
        const uri = `${base}?${query}${hash ?? ''}`
        const out = withoutDropped(uri, drop)
        // A fragment's parameters lose the field too (the caller reads them as much as the query).
        const outHash = hash === '#a?api_key=1' ? '#a' : hash
        const q = out.indexOf('?')
        const outQuery = q === -1 ? '' : out.slice(q + 1, outHash ? out.length - outHash.length : out.length)
        expect(outQuery.split(/[&;]/).filter((p) => p !== '' && drop(p.split('=')[0] as string))).toEqual([])
        expect(outQuery.split(/[&;]/).filter((p) => p !== '')).toEqual(pieces.filter((p) => p !== '' && !drop(p.split('=')[0] as string)).flatMap((p) => p.split(/[&;]/)).filter((p) => p !== ''))
        expect(out.startsWith(base)).toBe(true)
        if (outHash) expect(out.endsWith(outHash)).toBe(true)
      }),
      { seed: 0x5ec, numRuns: 10_000 },
    )
  })
})

describe('the fragment and a Refresh header (review rev-i)', () => {
  // A backend that puts the URL it was sent in a fragment (an SPA route `#/cb?…`, OAuth's
  // implicit-flow `#state=…`) or redirects with `Refresh: 0; url=…` hands the caller the field as
  // surely as a Location query does.
  const endpoint = { fields: [{ type: 'query', key: 'api_key' }], profile: undefined }
  const ctx = { endpoint, outbound: { url: new URL(`https://api.test/v1/x?page=2&api_key=${SECRET}`) }, inbound: { target: { query: '?page=2' } } } as unknown as Admitted
  const echoed = fc.constantFrom(`api_key=${SECRET}`, `API_KEY=${SECRET}`, `state=%2Fv1%2Fx%3Fapi_key%3D${SECRET}`, `r=${encodeURIComponent(`/v1/x?page=2&api_key=${SECRET}`)}`)
  const other = fc.constantFrom('page=2', 'a=1', 'code=xyz', 'top')
  it('no header the caller reads holds the secret, wherever the backend put it; other pieces stay (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom('https://app.test/cb', '/cb'), fc.array(other, { maxLength: 3 }), fc.constantFrom('#', '#/route?', '#!/r?'), fc.array(fc.oneof(echoed, other), { minLength: 1, maxLength: 4 }), fc.constantFrom('location', 'content-location', 'refresh'), (base, query, lead, frag, header) => {
        const uri = `${base}${query.length > 0 ? `?${query.join('&')}` : ''}${lead}${frag.join('&')}`
        const headers: Record<string, string> = { [header]: header === 'refresh' ? `0; url=${uri}` : uri }
        scrubEchoedQueryFields(ctx, headers as never)
        const out = headers[header] as string
        expect(out, `${uri} → ${out}`).not.toContain(SECRET)
        for (const p of [...query, ...frag.filter((f) => !f.includes(SECRET))]) expect(out).toContain(p)
      }),
      { seed: 0x5ed, numRuns: 2_000 },
    )
  })
})
