/**
 * What the gateway adds to an upstream URL's query (query fields: a profile's PIN, an API key, a
 * JWE claim; OAuth parameters with query placement: the token and the signature) never comes
 * back to the caller in a redirect: a backend that repeats the request's query in `Location`
 * or `Content-Location` (a trailing-slash redirect, a login page's `?next=`) has those
 * parameters removed, in any percent-encoding depth; the caller's own parameters stay
 * (src/proxy/echoed-fields.ts; by field name: echoed-fields.test.ts).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { scrubEchoedQueryFields } from '../../src/proxy/echoed-fields.js'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const PIN = 'PIN-4711-secret'
const API_KEY = 'k3y/with+chars&=%'
const STATIC_TOKEN = 'static-token-abcdef'

let pki: TestPki
let backend: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  backend = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      const url = req.url ?? '/'
      const location = url.startsWith('/login') ? url : url.startsWith('/next') ? `/login?next=${encodeURIComponent(url)}` : `https://api.partner.test${url.replace('?', '/?')}`
      res.writeHead(url.startsWith('/created') ? 201 : 302, { location, 'content-location': url })
      res.end()
    },
  })
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
profiles:
  - name: p
    consumerKey: ck
    consumerSecret: cs-secret
    placement: query
    token: { mode: static, token: "${STATIC_TOKEN}", tokenSecret: ts-secret }
    additionalFields: { pin: "${PIN}" }
endpoints:
  - name: partner
    url: "https://api.partner.test:${backend.port}"
    resolve: 127.0.0.1
    allowPrivate: true
    profile: p
    fields:
      - { type: query, key: pin, value: "{{fields.pin}}" }
      - { type: query, key: api_key, value: "${API_KEY}" }
${tls}`)
}, 120_000)

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  pki?.cleanup()
})

/** Every percent-decoding of `s` (the forms a browser or client would see). */
function decodings(s: string): string[] {
  const out = [s]
  for (let i = 0; i < 4; i++) {
    try {
      const next = decodeURIComponent((out[out.length - 1] as string).replace(/\+/g, ' '))
      if (next === out[out.length - 1]) break
      out.push(next)
    } catch {
      break
    }
  }
  return out
}

describe('a redirect carries none of the parameters the gateway added', () => {
  for (const [what, path] of [['a redirect repeating the query', '/a/b?x=1'], ['a login redirect with ?next=', '/next/b?x=1'], ['a 201 with Content-Location', '/created?x=1']] as const) {
    it(what, async () => {
      const r = await send(gw.url, `/proxy/partner${path}`)
      const headers = [r.headers.location, r.headers['content-location']].filter((h): h is string => typeof h === 'string')
      expect(headers.length).toBe(2)
      for (const h of headers) {
        for (const form of decodings(h)) {
          for (const secret of [PIN, API_KEY, STATIC_TOKEN, 'oauth_signature', 'oauth_token']) expect(form, h).not.toContain(secret)
        }
        // The caller's own parameter stays (a ?next= holding an added value goes whole).
        // (In route mode the backend's `/login` is the endpoint's route: `/proxy/partner/login`.)
        if (!h.startsWith('/proxy/partner/login')) expect(decodings(h).some((f) => f.includes('x=1')), h).toBe(true)
      }
    })
  }
})

describe('the added values, by value (property)', () => {
  const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const value = fc.string({ unit: fc.constantFrom(...'abcQZ0179 /+&=%?#"\'é€'.split('')), minLength: 4, maxLength: 20 })
  const name = fc.constantFrom('pin', 'acct', 'api_key', 'oauth_token', 'oauth_signature')
  const callerValue = fc.stringMatching(/^[a-z]{1,8}$/)
  it('removes every added value from Location in any nesting, and keeps the caller\'s parameters (3,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.constantFrom('x', 'page', 'q'), callerValue), { maxLength: 3 }), fc.nat({ max: 3 }), fc.boolean(), (added, caller, depth, lowerHex) => {
        const callerQuery = caller.map(([k, v]) => `${k}=${v}`).join('&')
        const outbound = new URL(`https://api.example/x?${callerQuery}`)
        outbound.search = [callerQuery, ...added.map(([k, v]) => `${enc(k)}=${enc(v)}`)].filter((p) => p !== '').join('&')
        // The backend's redirect: the query as received, nested `depth` times in ?next=.
        let location = `/x${outbound.search}`
        for (let i = 0; i < depth; i++) location = `/login?next=${enc(location)}`
        if (lowerHex) location = location.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())
        // An endpoint without query fields by name: only the values the request added count here.
        const ctx = { endpoint: { fields: [] }, outbound: { url: outbound }, inbound: { target: { path: '/x', query: callerQuery === '' ? '' : `?${callerQuery}` } } } as unknown as Admitted
        const headers: OutboundHeaders = { location }
        scrubEchoedQueryFields(ctx, headers)
        const out = headers.location as string
        for (const form of decodings(out)) for (const [, v] of added) expect(form.includes(v), `${JSON.stringify(v)} in ${out}`).toBe(false)
        if (depth === 0) for (const [k, v] of caller) expect(out).toContain(`${k}=${v}`)
      }),
      { seed: 0x10ca7e, numRuns: 3_000 },
    )
  })
})
