/**
 * The request's own credential is found in the request target however many times it was
 * percent-encoded: a caller JWT without `jti`, used directly as the credential on
 * Proxy-Authorization (no bearer tag: only the own-credential check can know it), copied into the
 * path or query in any letter case with each character as written, encoded once (`%XX`), encoded
 * twice (`%25XX`) or a mix, hex digits in either case, is refused with 400 credential_in_target and
 * nothing is sent. On the forward proxy and in route mode, against a real mTLS upstream that records
 * every line it receives (the endpoint's address is configured: the target's text never picks what
 * is dialled). Before, a copy holding twice-encoded escapes was judged for gateway bearers only
 * at one level, and went upstream.
 */
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
/** JWTs without jti, each accepted directly as the credential. */
let jwts: string[] = []
const received = new Map<string, string>()

function record(req: IncomingMessage, res: ServerResponse): void {
  received.set(String(req.headers['x-case'] ?? `unmarked-${received.size}`), `${req.method ?? ''} ${req.url ?? ''}`)
  req.resume()
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
}

async function jwtFor(sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
}

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: record })
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
callers:
  required: true
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}/base
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`)
  jwts = await Promise.all(Array.from({ length: 4 }, (_, i) => jwtFor(`user-${i}`)))
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

/** How one character is written: as is, `%XX`, or `%25XX`; and whether its letter and the hex digits are upper-cased. */
const spelling = fc.record({ times: fc.constantFrom(0, 1, 2), upper: fc.boolean(), upperHex: fc.boolean() })
type Spelling = { times: number; upper: boolean; upperHex: boolean }
const encodedCase = fc.record({
  way: fc.constantFrom('forward' as const, 'route' as const),
  jwt: fc.nat(3),
  place: fc.constantFrom('path' as const, 'query' as const),
  // Every character the same way (once, twice), or each its own (mixed); at least one written twice.
  mix: fc.oneof(fc.constantFrom(1, 2), fc.array(spelling, { minLength: 1, maxLength: 64 })),
  upper: fc.boolean(),
  twiceAt: fc.nat(399),
})

function written(ch: string, s: Spelling): string {
  const c = s.upper ? ch.toUpperCase() : ch.toLowerCase()
  if (s.times === 0 && /[A-Za-z0-9_-]/.test(c)) return c
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
  const escape = `%${s.upperHex ? hex.toUpperCase() : hex}`
  return s.times === 2 ? `%25${escape.slice(1)}` : escape
}

/** The JWT as the case spells it, with one escape encoded twice at least. */
function spelled(jwt: string, c: { mix: 1 | 2 | Spelling[]; upper: boolean; twiceAt: number }): string {
  const each = [...jwt].map((_, i): Spelling => (typeof c.mix === 'number' ? { times: c.mix, upper: c.upper, upperHex: c.upper } : (c.mix[i % c.mix.length] as Spelling)))
  const at = c.twiceAt % jwt.length
  each[at] = { ...(each[at] as Spelling), times: 2 }
  return [...jwt].map((ch, i) => written(ch, each[i] as Spelling)).join('')
}

let cases = 0

describe('the request\'s own credential in the target, encoded once, twice or mixed, in any letter case', () => {
  it('is refused (400 credential_in_target) and nothing is sent (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(encodedCase, async (c) => {
        const jwt = jwts[c.jwt] as string
        const value = spelled(jwt, c as Parameters<typeof spelled>[1])
        const target = c.place === 'path' ? `/v1/${value}` : `/v1/items?t=${value}`
        const id = `enc-${cases++}`
        const headers = { 'x-case': id, 'proxy-authorization': `Bearer ${jwt}` }
        const r = await send(gw.url, c.way === 'route' ? `/proxy/partner${target}` : `http://api.partner.test:${upstream.port}${target}`, { headers })
        expect([r.status, r.json()], r.text).toEqual([400, { errors: [{ msg: expect.stringMatching(/^the request target's (path|query) holds a gateway credential/), code: 400 }] }])
        expect(received.get(id), 'nothing was sent upstream').toBeUndefined()
      }),
      { seed: 0x2525, numRuns: 1_000 },
    )
  }, 600_000)
})
