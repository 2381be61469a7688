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
 *
 * The link page answers the same way: a link whose profile a reload removed (or made other than
 * per_user) shows the HTML failure page saying so, whether the browser opens it (GET, HEAD) or
 * clicks the button of a page loaded before the reload (POST), and is used up: with the profile
 * back it is an unknown link, and the provider never heard of it. A link opened with another
 * method gets the 405 page with its Allow header, and is left as it was.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { accessLineWhere, eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { authorizeLink, cookieFor, gatewayYaml, newSealKey, pathOf, setCookiesOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'
import { DANCE_PAGE_HEADERS, expectDancePage, expectFailurePage } from './dance-pages.js'

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
})

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

async function reload(g: OpsGateway, yaml: string): Promise<void> {
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  const before = g.gw.ref.current
  const result = await g.gw.ops?.reload('test')
  expect(g.gw.ref.current, JSON.stringify(result)).not.toBe(before)
}

async function reloadTo(g: OpsGateway, yaml: string): Promise<void> {
  await reload(g, yaml)
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
    const line = await accessLineWhere(g, (e) => e.status === 400 && typeof e.error === 'string' && e.error.includes('no longer configured'), 'the callback\'s access line')
    expect(line?.reason).toBe('oauth_authorization_unknown')
  } finally {
    await g.gw.close()
  }
}

describe('a dance whose profile a reload removed', () => {
  it('another per-user profile still configured: the failure page names what happened, and the dance is used up', async () => {
    const start = withSpare(baseYaml('spare.db'))
    await danceAcrossReload(start, start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '    profile: spare\n'), 'alice')
  })

  it('no per-user profile left, nor seal keys: the same page, and the dance is used up', async () => {
    const start = baseYaml('none.db')
    const after = start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '').replace(/  sealKeys:\n(    .*\n)+/, '').replace(/profiles:\n$/, '')
    await danceAcrossReload(start, after, 'bob')
  })

  it('the profile kept, but no longer for per-user tokens: the same page, nothing obtained or stored', async () => {
    const start = withSpare(baseYaml('mode.db'))
    await danceAcrossReload(start, start.replace('    token:\n      mode: per_user\n', '    token:\n      mode: none\n'), 'carol')
  })
})

/** The three reloads above, each as a config before and after it (built once the PKI and the provider are up). */
const RELOADS: readonly [string, (db: string) => [string, string]][] = [
  ['removed, another per-user profile kept', (db) => {
    const start = withSpare(baseYaml(db))
    return [start, start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '    profile: spare\n')]
  }],
  ['removed with every per-user profile and the seal keys', (db) => {
    const start = baseYaml(db)
    return [start, start.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '').replace(/  sealKeys:\n(    .*\n)+/, '').replace(/profiles:\n$/, '')]
  }],
  ['kept, but token.mode none', (db) => {
    const start = withSpare(baseYaml(db))
    return [start, start.replace('    token:\n      mode: per_user\n', '    token:\n      mode: none\n')]
  }],
]

/** The link page's form: its action and CSRF token, as the browser holds them. */
function formOf(page: { text: string }): { action: string; body: string } {
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1]
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1]
  if (csrf === undefined || action === undefined) throw new Error(`no form on the link page: ${page.text.slice(0, 200)}`)
  return { action: action.replaceAll('&amp;', '&'), body: new URLSearchParams({ csrf }).toString() }
}

const GONE = 'This authorization link is for the profile "partner", which is no longer configured on this gateway: its configuration changed after the link was made.'
const UNKNOWN = 'This authorization link is unknown, expired or already used.'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

describe('a link whose profile a reload removed (or made other than per_user)', () => {
  for (const [i, [name, configs]] of RELOADS.entries()) {
    it(`${name}: opened or clicked, the failure page says so, and the link is used up without a word to the provider`, async () => {
      const [start, after] = configs(`link-${i}.db`)
      const g = await startOpsGateway(dir, start, { watch: false })
      try {
        const opened = await authorizeLink(g.gw.url, 'user=dave')
        const clicked = await authorizeLink(g.gw.url, 'user=erin')
        const peeked = await authorizeLink(g.gw.url, 'user=frank')
        // The page the user had open when the reload came.
        const form = formOf(await send(g.gw.url, pathOf(clicked)))
        const calls = (await provider.state()).token_calls.length
        await reloadTo(g, after)
        expectFailurePage(await send(g.gw.url, pathOf(opened), { headers: { accept: 'text/html' } }), 400, GONE, 'GET')
        expectFailurePage(await send(g.gw.url, form.action, { method: 'POST', headers: FORM, body: form.body }), 400, GONE, 'POST')
        const head = await send(g.gw.url, pathOf(peeked), { method: 'HEAD' })
        expect([head.status, head.headers['content-type'], head.text]).toEqual([400, 'text/html; charset=utf-8', ''])
        expect(head.headers).toMatchObject(DANCE_PAGE_HEADERS)
        // Each line is written once its request finished on the gateway's side, which can be after the answer was read.
        const lines = await eventually(() => {
          const gone = g.access().filter((e) => e.status === 400 && typeof e.error === 'string' && e.error.includes('is no longer configured'))
          return gone.length >= 3 && gone
        }, 15_000, 'the three access lines')
        expect(lines.map((l) => l.reason)).toEqual(['oauth_authorization_unknown', 'oauth_authorization_unknown', 'oauth_authorization_unknown'])
        // Used up: with the profile back, each is an unknown link; the provider never heard of them.
        await reload(g, start)
        for (const link of [opened, clicked, peeked]) expectFailurePage(await send(g.gw.url, pathOf(link)), 400, UNKNOWN, link)
        expect((await provider.state()).token_calls.length).toBe(calls)
      } finally {
        await g.gw.close()
      }
    })
  }

  it('a method other than GET, HEAD or POST: the 405 page with its Allow header, the link left as it was, before and after such a reload', async () => {
    const [start, after] = (RELOADS[0] as (typeof RELOADS)[number])[1]('method.db')
    const g = await startOpsGateway(dir, start, { watch: false })
    try {
      const link = await authorizeLink(g.gw.url, 'user=gina')
      const calls = (await provider.state()).token_calls.length
      const wrong = async (): Promise<void> => {
        for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
          const r = await send(g.gw.url, pathOf(link), { method, headers: FORM, body: 'csrf=x' })
          expectFailurePage(r, 405, `This address is a one-time authorization link, to open in a browser and confirm with its button; ${method} is not served: use GET, HEAD or POST`, method)
          expect(r.headers.allow).toBe('GET, HEAD, POST')
        }
      }
      await wrong()
      expectDancePage(await send(g.gw.url, pathOf(link)), 200, 'the link still there')
      await reloadTo(g, after)
      await wrong()
      expectFailurePage(await send(g.gw.url, pathOf(link)), 400, GONE, 'the link, not taken by the 405s')
      expect((await provider.state()).token_calls.length).toBe(calls)
    } finally {
      await g.gw.close()
    }
  })
})
