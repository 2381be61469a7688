/**
 * Every path that takes a tenant applies one rule (src/config/tenant-label.ts: a DNS label, ASCII
 * letters in any case, kept in lower case): the proxy, the dance's start, its callback (which
 * stores the token under the start's tenant) and the console's authorize link agree on every
 * generated string, and a token authorized under one spelling serves calls under another (the
 * proxy lower-cased while the dance refused upper case and the console took anything as given).
 *
 * Every path that takes a user id applies one rule (src/callers/user-id.ts): the token
 * exchange's `sub` and `identityToMerge`, a JWT used directly as the bearer, the dance's
 * `user=`, a revoke's path, the console's link and revoke. A generated id is accepted by all of
 * them or refused by all of them, with the same words (the length was checked on the dance's
 * start only: a 300-character `sub` got a bearer, the console made links for it). A revoke is the
 * one exception: it takes a longer id, which names a token an earlier version stored (nothing is
 * stored under the generated ones: 404, not a refusal). One gateway
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
import { ADMIN_TOKEN, danceInBrowser, startDanceProvider, type DanceProvider } from './dance-support.js'

const SECRET = 'identity-paths-hs256-secret-of-32-bytes'
const AUD = 'https://gateway.test'
// Unthrottled: the property refuses many generated ids' exchanges from one address (test/api/exchange-throttle.test.ts throttles).
const CALLERS = `callers:\n  required: true\n  adminToken: ${ADMIN_TOKEN}\n  failedExchangesPerMinute: 0\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]\n`
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` }

let pki: TestPki
let provider: DanceProvider
let dir: string
let ops: OpsGateway
let consolePost: (name: string, body: unknown) => Promise<Reply>

/** The console rig's config with caller app "bot" and endpoint "tenanted-ep" (profile "tenanted", made per-user). */
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
  return base.replace('\nprofiles:\n', `\n${tenanted}profiles:\n`).replace('    tenancy: true\n', '    tenancy: true\n    token:\n      mode: per_user\n')
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

/** The rule, written out independently of src/: 1-256 UTF-16 code units, no unpaired surrogate, no C0/C1 or bidi control. */
function expectedProblem(id: string): string | undefined {
  if (id.length > 256) return 'must be at most 256 characters'
  if (!wellFormed(id)) return 'must be well-formed Unicode (it holds an unpaired surrogate)'
  return /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(id) ? 'must not contain control or bidirectional formatting characters' : undefined
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
          // A revoke takes the ids earlier versions allowed (longer than 256): only the Unicode rule refuses.
          const revoking = path === 'revoke' || path === 'console revoke'
          const no = !revoking ? refused(status, subject) : wellFormed(id) ? undefined : [status, `${subject} must be well-formed Unicode (it holds an unpaired surrogate)`]
          return [path, no?.[0] ?? expect.any(Number), no?.[1] ?? 'accepted'] as const
        })
        expect(seen).toEqual(expected)
      }),
      { seed: 0x05e1d, numRuns: 60 },
    )
  })
})

/** The rule, written out independently of src/: a DNS label of ASCII letters in any case; kept in lower case. */
const expectedTenant = (t: string): string | undefined => (/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(t) ? t.toLowerCase() : undefined)
const RULE = 'the tenant must be a DNS label (letters, digits, hyphens; at most 63)'
// The Kelvin sign, long s and dotted I case-map to ASCII letters under Unicode rules.
const tenantUnit = fc.constantFrom('a', 'k', 'Z', 'S', '0', '-', '.', '_', ' ', '\u212A', '\u017F', '\u0130', 'é')
const tenantText = fc.oneof(fc.string({ unit: tenantUnit, minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'B', '9', '-'), minLength: 60, maxLength: 66 }))
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/)
/** `l` with each letter's case chosen by `upper`. */
const spelled = (l: string, upper: readonly boolean[]): string => [...l].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('')
const caseFlags = fc.array(fc.boolean(), { minLength: 1, maxLength: 6 })
const asAdmin = { ...ADMIN, 'content-type': 'application/json' }

/** A one-time link for (app bot's) `user` under `tenant`, from the dance's start or the console. */
async function tenantLink(via: 'dance' | 'console', user: string, tenant: string): Promise<{ status: number; text: string; url?: string }> {
  const r = via === 'dance'
    ? await send(ops.gw.url, '/gateway/oauth1/tenanted/authorize?format=json', { ...json({ user, app: 'bot', tenant }), headers: asAdmin })
    : await consolePost('users/link', { app: 'bot', profile: 'tenanted', user, tenant })
  const url = r.status === 200 ? (JSON.parse(r.text) as { authorizeUrl?: string; url?: string }) : undefined
  return { status: r.status, text: r.text, ...(url ? { url: url.authorizeUrl ?? url.url } : {}) }
}
/** A call of user `sub` through endpoint tenanted-ep under `tenant` (the tenant header, UTF-8 encoded: Node's client sends one byte per character). */
const tenantCall = async (sub: string, tenant: string) =>
  send(ops.gw.url, '/proxy/tenanted-ep/resource/t', { headers: { 'proxy-authorization': `Bearer ${await jwt({ sub })}`, 'x-gateway-tenant': Buffer.from(tenant, 'utf8').toString('latin1') } })

describe('one tenant rule on every path', () => {
  it('property: the proxy, the dance\'s start and the console\'s link accept or refuse every string alike (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(tenantText, async (t) => {
        const ok = expectedTenant(t) !== undefined
        const outcome = (r: { status: number; text: string }, accepted: number): string => (r.status === accepted ? 'accepted' : `${r.status} ${msgOf(r)}`)
        const seen: [string, string][] = [['dance start', outcome(await tenantLink('dance', 'tu', t), 200)], ['console link', outcome(await tenantLink('console', 'tu', t), 200)]]
        // The header carries the tenant UTF-8 encoded, as every header text is read.
        seen.push(['proxy', outcome(await tenantCall('tu', t), 401)])
        const refusal = (who: string): string => `400 ${who}: ${RULE}`
        expect(seen).toEqual(seen.map(([path]) => [path, ok ? 'accepted' : refusal(path === 'proxy' ? 'endpoint "tenanted-ep"' : 'profile "tenanted"')]))
      }),
      { seed: 0x7e4a, numRuns: 80 },
    )
  })

  it('property: a token authorized under one spelling of a tenant (dance or console link, then the callback) serves calls under any other, and is revoked under any other (seeded)', async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(label, caseFlags, caseFlags, caseFlags, fc.constantFrom('dance' as const, 'console' as const), async (l, a, b, c, via) => {
        const user = `tenant-user-${n++}`
        const link = await tenantLink(via, user, spelled(l, a))
        expect(link.status, link.text).toBe(200)
        const { done } = await danceInBrowser(link.url as string, { provider, gateway: ops.gw.url })
        expect(done.status, done.text).toBe(200)
        const call = await tenantCall(user, spelled(l, b))
        expect(call.status, call.text).toBe(200)
        // Revoked under a third spelling (the console's revoke or the dance's), the token is gone for every spelling.
        const revoked = via === 'console'
          ? await consolePost('users/revoke', { space: 'bot', profile: 'tenanted', user, tenant: spelled(l, c) })
          : await send(ops.gw.url, `/gateway/oauth1/tenanted/tokens/${user}?app=bot&tenant=${spelled(l, c)}`, { method: 'DELETE', headers: ADMIN })
        expect(revoked.status, revoked.text).toBe(200)
        expect((await tenantCall(user, l)).status).toBe(401)
      }),
      { seed: 0x7e4b, numRuns: 6 },
    )
  })
})
