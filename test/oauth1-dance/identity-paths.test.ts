/**
 * Every path that takes a user id applies one rule (src/callers/user-id.ts): the token
 * exchange's `sub` and `identityToMerge`, a JWT used directly as the bearer, the dance's
 * `user=`, a revoke's path, the console's link and revoke. A generated id is accepted by all of
 * them or refused by all of them, with the same words (the length was checked on the dance's
 * start only: a 300-character `sub` got a bearer, the console made links for it). One gateway
 * with the console, a caller app and the python3-oauthlib provider; real SQLite.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminRequest, apiSession, CONSOLE_TOKEN, rigYaml, type Reply } from '../console/console-support.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { ADMIN_TOKEN, startDanceProvider, type DanceProvider } from './dance-support.js'

const SECRET = 'identity-paths-hs256-secret-of-32-bytes'
const AUD = 'https://gateway.test'
const CALLERS = `callers:\n  required: true\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]\n`
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` }

let pki: TestPki
let provider: DanceProvider
let dir: string
let ops: OpsGateway
let consolePost: (name: string, body: unknown) => Promise<Reply>

/** The console rig's config with caller app "bot" and endpoint "tenanted-ep" (profile "tenanted"). */
function yaml(): string {
  const base = rigYaml(pki, provider, dir).replace(/callers:\n {2}required: false\n {2}adminToken: .*\n/, CALLERS)
  const tenanted = `  - name: tenanted-ep
    url: https://api.partner.test:${provider.apiPort}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: tenanted
    tls:
      cert: ${pki.file('client.crt')}
      key: ${pki.file('client.key')}
      intermediates: ${pki.file('inter.crt')}
      roots: ${pki.file('root.crt')}
`
  return base.replace('\nprofiles:\n', `\n${tenanted}profiles:\n`)
}

beforeAll(async () => {
  process.env.MTLS_GATEWAY_TEST_CONSOLE_TOKEN = CONSOLE_TOKEN
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'identity-paths-'))
  ops = await startOpsGateway(dir, yaml())
  const s = await apiSession(`${ops.adminUrl}/console/`)
  consolePost = (name, body) => adminRequest(`${ops.adminUrl}/console/api/${name}`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body })
})

afterAll(async () => {
  await ops?.gw.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function jwt(claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
}
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const msgOf = (r: { text: string }): string => (JSON.parse(r.text || '{}') as { errors?: { msg: string }[] }).errors?.[0]?.msg ?? ''

/** Whether UTF-8 can carry `text` (no unpaired surrogate): it survives the round trip. */
const wellFormed = (text: string): boolean => Buffer.from(text, 'utf8').toString('utf8') === text

/** The rule, written out independently of src/: 1-256 UTF-16 code units, no unpaired surrogate. */
function expectedProblem(id: string): string | undefined {
  if (id.length > 256) return 'must be at most 256 characters'
  return wellFormed(id) ? undefined : 'must be well-formed Unicode (it holds an unpaired surrogate)'
}

// Lengths around the limit, lone surrogates, pairs, controls, and ordinary ids.
const unit = fc.constantFrom('a', 'Z', '7', '-', ':', '/', '%', ' ', 'é', '\u202E', '\uD83D\uDE00', '\uD800', '\uDC00', '\u0000')
const userId = fc.oneof(
  fc.string({ unit, minLength: 1, maxLength: 12 }),
  fc.tuple(fc.integer({ min: 250, max: 262 }), fc.string({ unit, maxLength: 3 })).map(([n, tail]) => 'u'.repeat(n - Math.min(n, tail.length)) + tail),
)

describe('one user-id rule on every path', () => {
  it('property: every path accepts the id, or refuses it with the same problem (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(userId, async (id) => {
        const problem = expectedProblem(id)
        const refused = (status: number, subject: string) => (problem === undefined ? undefined : [status, `${subject} ${problem}`])
        const seen: (readonly [string, number, string])[] = []
        const record = (path: string, r: { status: number; text: string }, ok: (s: number) => boolean): void => {
          // A refusal for the id is its own message; accepted, the call goes on to the next fact.
          const taken = ok(r.status) && !msgOf(r).includes(' must ')
          seen.push([path, r.status, taken ? 'accepted' : msgOf(r)])
        }
        record('exchange sub', await send(ops.gw.url, '/gateway/token', json({ assertion: await jwt({ sub: id, jti: randomUUID() }) })), (s) => s === 200)
        record('exchange identityToMerge', await send(ops.gw.url, '/gateway/token', json({ assertion: await jwt({ sub: 'known', identityToMerge: id, jti: randomUUID() }) })), (s) => s === 200)
        // Accepted: the call reaches the user's token lookup (none yet: 401 with the authorize URL).
        record('JWT as bearer', await send(ops.gw.url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${await jwt({ sub: id })}` } }), (s) => s === 401)
        record('dance start', await send(ops.gw.url, '/gateway/oauth1/partner/authorize?format=json', { ...json({ user: id, app: 'bot' }), headers: { ...ADMIN, 'content-type': 'application/json' } }), (s) => s === 200)
        record('console link', await consolePost('users/link', { app: 'bot', profile: 'partner', user: id }), (s) => s === 200)
        record('console revoke', await consolePost('users/revoke', { space: 'bot', profile: 'partner', user: id }), (s) => s === 404)
        // A path cannot carry an unpaired surrogate (no UTF-8 for it): only lengths are tried there.
        if (wellFormed(id)) {
          record('revoke', await send(ops.gw.url, `/gateway/oauth1/partner/tokens/${encodeURIComponent(id)}?app=bot`, { method: 'DELETE', headers: ADMIN }), (s) => s === 404)
        }
        const expected = seen.map(([path]) => {
          const jwtClaim = path.startsWith('exchange') || path === 'JWT as bearer'
          const claim = path === 'exchange identityToMerge' ? 'identityToMerge' : 'sub'
          const subject = jwtClaim ? `error verifying the jwt: "${claim}" claim` : path === 'revoke' ? 'the user in the path' : '"user"'
          // Route mode answers refused caller credentials with 401 (407 is the forward proxy's).
          const status = jwtClaim ? 401 : 400
          const no = refused(status, subject)
          return [path, no?.[0] ?? expect.any(Number), no?.[1] ?? 'accepted'] as const
        })
        expect(seen).toEqual(expected)
      }),
      { seed: 0x05e1d, numRuns: 60 },
    )
  })
})
