/**
 * A dance started under a profile that a hot reload then removed: the user approves at the
 * provider, and the callback finds the profile gone. The browser gets the dance's HTML failure
 * page saying so in plain words (the profile is no longer configured: ask for a new link), with
 * nothing from the store or the config on it but the profile's name, the cookie cleared, and
 * the dance used up: the same redirect a second time is an unknown authorization, and the
 * provider's access-token URL is never called. So too when the reload removed every per-user
 * profile and the seal keys with them (no token store is left to complete anything with), and
 * when it kept the profile but no longer for per-user tokens (token.mode none): no user token is
 * obtained or stored for it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { authorizeLink, cookieFor, gatewayYaml, newSealKey, pathOf, setCookiesOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

const SEAL_KEY = newSealKey()
/** The config's profile "partner" (gatewayYaml's), with every line that names it. */
const PARTNER_PROFILE = /  - name: partner\n    provider: Partner Bank\n[\s\S]*?      mode: per_user\n/

let pki: TestPki
let provider: DanceProvider
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-profile-removed-'))
}, 60_000)

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function baseYaml(db: string): string {
  return gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, db) }, sealKeys: [{ id: 'k1', key: SEAL_KEY }] }).replace('admin:\n  enabled: false\n', '')
}

/** `yaml` with profile "spare" (per-user, on endpoint partner) added. */
const withSpare = (yaml: string): string => `${yaml}  - name: spare\n    endpoint: partner\n    consumerKey: spareconsumerkey000001\n    consumerSecret: spare-secret\n    requestTokenUrl: https://api.partner.test/rt\n    accessTokenUrl: https://api.partner.test/at\n    authorizeUrl: https://api.partner.test/auth\n    token:\n      mode: per_user\n`

async function reloadTo(g: OpsGateway, yaml: string): Promise<void> {
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  const before = g.gw.ref.current
  const result = await g.gw.ops?.reload('test')
  expect(g.gw.ref.current, JSON.stringify(result)).not.toBe(before)
  expect(g.gw.ref.current.profiles.get('partner')?.config.token.mode).not.toBe('per_user')
}

/** Starts a dance for a user, reloads to `after`, approves, and follows the redirect back with the cookie, twice. */
async function danceAcrossReload(start: string, after: string, user: string): Promise<void> {
  const g = await startOpsGateway(dir, start, { watch: false })
  try {
    const started = await startInBrowser(await authorizeLink(g.gw.url, `user=${user}`), { provider })
    await reloadTo(g, after)
    const callbackUrl = await provider.decide(started.requestToken, 'approve')
    const back = (): ReturnType<typeof send> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
    const done = await back()
    expect(done.headers['content-type'], done.text).toMatch(/^text\/html/)
    expect(done.text).toContain('data-result="failure"')
    expect(done.text).toContain('is no longer configured on this gateway')
    expect(done.text).toContain('Ask for a new authorization link')
    expect(done.text).toContain(`<code>${done.status}</code>`)
    expect(done.status).toBe(400)
    // Nothing of the dance or the config on the page: no token, verifier, secret, user or provider URL.
    const verifier = new URL(callbackUrl).searchParams.get('oauth_verifier') as string
    for (const secret of [started.requestToken, verifier, SEAL_KEY, 'dance-consumer-secret', user, String(provider.apiPort)]) expect(done.text).not.toContain(secret)
    expect(setCookiesOf(done).some((c) => c.name === started.cookie.name && c.attributes['max-age'] === '0')).toBe(true)
    // Used up: the same redirect again finds nothing, and the provider never saw an access-token request.
    const again = await back()
    expect([again.status, again.text.includes('unknown, expired or already completed')]).toEqual([400, true])
    expect((await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token')).toEqual([])
    const line = g.access().find((e) => e.status === 400 && typeof e.error === 'string' && e.error.includes('no longer configured'))
    expect(line?.reason).toBe('oauth_authorization_unknown')
  } finally {
    await g.gw.close()
  }
}

describe('a dance whose profile a reload removed', () => {
  it('another per-user profile still configured: the failure page names what happened, and the dance is used up', async () => {
    const start = withSpare(baseYaml('spare.db'))
    await danceAcrossReload(start, start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '    profile: spare\n'), 'alice')
  }, 60_000)

  it('no per-user profile left, nor seal keys: the same page, and the dance is used up', async () => {
    const start = baseYaml('none.db')
    const after = start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '').replace(/  sealKeys:\n(    .*\n)+/, '').replace(/profiles:\n$/, '')
    await danceAcrossReload(start, after, 'bob')
  }, 60_000)

  it('the profile kept, but no longer for per-user tokens: the same page, nothing obtained or stored', async () => {
    const start = withSpare(baseYaml('mode.db'))
    await danceAcrossReload(start, start.replace('    token:\n      mode: per_user\n', '    token:\n      mode: none\n'), 'carol')
  }, 60_000)
})
