/**
 * profiles[].legacyOAuth10: the operator's opt-out for a provider that implements OAuth Core 1.0,
 * not 1.0a. Against a real 1.0 provider (python3-oauthlib for every signature check,
 * provider_oauth10.py for the 1.0 request-token, authorize and access-token steps, as oauthlib
 * has no 1.0 mode): its request-token request carries no oauth_callback (Core 1.0 §6.1.1 has
 * none; a strict 1.0 provider may refuse an unknown parameter), its reply has no
 * oauth_callback_confirmed, it learns the callback from the authorize URL, and it sends the user
 * back with no oauth_verifier. With the
 * setting the whole dance completes and the token signs proxied calls; without it (the default)
 * the same provider is refused as before. `check` warns (exit 0) naming the profile and the risk;
 * the console's profile view carries the setting. A seeded property: with the setting, any
 * oauth_callback_confirmed value (or none) gives the token pair.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { profileViews } from '../../src/console/profiles.js'
import { parseTokenReply } from '../../src/dance/token-reply.js'
import type { Profile } from '../../src/gateway/index.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { eventually } from '../support/eventually.js'
import { MAIN, spawnGateway } from '../support/process.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN, authorizeLink, authorizeUser, clickLink, cookieFor, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

/** The oauth_* names of the provider's request-token calls from the `from`-th on: each must have been answered 200. */
async function requestTokenParams(from = 0): Promise<string[][]> {
  const calls = (await provider.state()).token_calls.filter((c) => c.endpoint === 'request_token').slice(from)
  expect(calls.map((c) => c.status)).toEqual(calls.map(() => 200))
  return calls.map((c) => c.oauth_params ?? [])
}

const WARNING = /profiles\[0\]\.legacyOAuth10: warning: profile "partner" accepts an OAuth Core 1\.0 provider \(no oauth_callback_confirmed, no oauth_verifier\): its dance is open to session fixation/

let pki: TestPki
let dir: string
let provider: DanceProvider
let legacy: RunningGateway
let strict: RunningGateway

function writeYaml(name: string, profileExtra: string): string {
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, `${name}.db`) }, profileExtra })
  writeFileSync(join(dir, `${name}.yaml`), yaml)
  return yaml
}

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'dance-legacy-oauth10-'))
  provider = await startDanceProvider(pki, { oauth_version: '1.0', request_token_reply: { oauth_callback_confirmed: null } })
  legacy = await startTestGateway(dir, writeYaml('legacy', '    legacyOAuth10: true\n'))
  strict = await startTestGateway(dir, writeYaml('strict', ''))
})

afterAll(async () => {
  await legacy?.close()
  await strict?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('legacyOAuth10: true against an OAuth Core 1.0 provider', () => {
  it('completes the dance without callback confirmation or verifier, and the token signs proxied calls', async () => {
    const dance = await authorizeUser(legacy.url, provider, 'user=alice')
    // Core 1.0 §6.2.1: the provider learns the callback from the authorize URL.
    const callbackParam = new URL(dance.providerUrl).searchParams.get('oauth_callback')
    expect(callbackParam).toMatch(/\/gateway\/oauth1\/callback$/)
    expect(dance.callbackUrl.startsWith(`${callbackParam}?`)).toBe(true)
    expect(new URL(dance.callbackUrl).searchParams.has('oauth_verifier')).toBe(false)
    const state = await provider.state()
    const exchange = state.token_calls.filter((c) => c.endpoint === 'access_token')
    expect(exchange).toHaveLength(1)
    expect(exchange[0]?.status).toBe(200)
    expect(exchange[0]?.oauth_params).toContain('oauth_token')
    expect(exchange[0]?.oauth_params).not.toContain('oauth_verifier')
    // Core 1.0 §6.1.1: the request-token request names no callback; the provider saw none.
    const requested = await requestTokenParams()
    expect(requested).toHaveLength(1)
    expect(requested[0]).toContain('oauth_consumer_key')
    expect(requested[0]).not.toContain('oauth_callback')

    const call = await send(legacy.url, '/proxy/partner/resource/hello', { headers: { 'x-gateway-user': 'alice' } })
    expect(call.status, call.text).toBe(200)
    const verified = call.json<{ ok: boolean; token: string }>()
    expect(verified.ok).toBe(true)
    expect(state.access_tokens.map((t) => t.token)).toContain(verified.token)
  })

  it('binds the dance to the browser as 1.0a does: an approval brought back without the cookie, or with another dance\'s, stores nothing and uses the dance up', async () => {
    const calls = async (): Promise<number> => (await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length
    const other = await startInBrowser(await authorizeLink(legacy.url, 'user=mallory'), { provider })
    for (const cookie of [{}, cookieFor(other.cookie, `${legacy.url}/gateway/oauth1/callback`)]) {
      // The attacker's dance: its provider page sent to a victim, who approves in a browser without the attacker's cookie.
      const started = await startInBrowser(await authorizeLink(legacy.url, 'user=mallory'), { provider })
      const back = await provider.decide(started.requestToken, 'approve')
      const before = await calls()
      const victim = await send(legacy.url, pathOf(back), { headers: cookie })
      expect([victim.status, victim.text.includes('data-result="failure"')], victim.text).toEqual([403, true])
      // The attacker, with the dance's own cookie, comes too late: nothing is left to complete.
      const attacker = await send(legacy.url, pathOf(back), { headers: cookieFor(started.cookie, back) })
      expect([attacker.status, attacker.text.includes('unknown, expired or already completed')]).toEqual([400, true])
      expect(await calls()).toBe(before)
    }
  })

  it('the profile test and test-auth (the dist build) succeed, their request-token requests without oauth_callback', async () => {
    const before = (await requestTokenParams()).length
    const res = await send(legacy.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: ADMIN })
    expect(res.status, res.text).toBe(200)
    expect(res.json<{ ok: boolean; message: string }>()).toMatchObject({ ok: true })
    assertDistFresh()
    const r = spawnSync(process.execPath, [MAIN, 'test-auth', 'partner', '--config', join(dir, 'legacy.yaml')], { encoding: 'utf8', timeout: 100_000 }) // a bound for a hung CLI, not a speed check: a start at load 30 took over 20 s
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Auth Test Succeeded\n/)
    const requested = await requestTokenParams(before)
    expect(requested).toHaveLength(2)
    for (const names of requested) expect(names).not.toContain('oauth_callback')
  })

  it('check warns naming the profile and session fixation, and still passes; the console view shows the setting', () => {
    const checked = runCheck(join(dir, 'legacy.yaml'))
    expect(checked.ok, checked.output).toBe(true)
    expect(checked.output).toMatch(WARNING)
    expect(profileViews(legacy.ref.current)[0]?.legacyOAuth10).toBe(true)
  })

  it('serve (the dist build) logs the same risk as a warning naming the profile', async () => {
    writeYaml('serve', '    legacyOAuth10: true\n')
    const gp = await spawnGateway(join(dir, 'serve.yaml'))
    try {
      const warned = await eventually(() => gp.logEntries().find((e) => e.level === 'warn' && e.profile === 'partner' && String(e.msg).includes('session fixation')), 20_000, 'the legacyOAuth10 warning')
      expect(warned.msg).toMatch(/^profile accepts an OAuth Core 1\.0 provider \(no oauth_callback_confirmed, no oauth_verifier\): its dance is open to session fixation/)
    } finally {
      await gp.stop()
    }
  })
})

describe('legacyOAuth10: true against a 1.0 provider that sends a verifier', () => {
  it('still passes the verifier it sends on: the dance completes', async () => {
    // A request-token step of Core 1.0 (no oauth_callback), then oauthlib's verifier and 1.0a access-token step.
    const modern = await startDanceProvider(pki, { oauth_version: '1.0', send_verifier: true })
    const yaml = gatewayYaml({ pki, provider: modern, store: { kind: 'sqlite', file: join(dir, 'modern.db') }, profileExtra: '    legacyOAuth10: true\n' })
    const gw = await startTestGateway(dir, yaml)
    try {
      const dance = await authorizeUser(gw.url, modern, 'user=carol')
      expect(new URL(dance.callbackUrl).searchParams.get('oauth_verifier')).toMatch(/\w+/)
      // oauthlib's 1.0a AccessTokenEndpoint issued the token: it refuses a request without the verifier.
      const calls = (await modern.state()).token_calls
      expect(calls.filter((c) => c.endpoint === 'access_token').map((c) => c.status)).toEqual([200])
      expect(calls.filter((c) => c.endpoint === 'request_token').map((c) => [c.status, c.oauth_params?.includes('oauth_callback')])).toEqual([[200, false]])
    } finally {
      await gw.close()
      await modern.close()
    }
  })
})

describe('legacyOAuth10 absent (the default) against the same provider', () => {
  it('refuses the request-token reply as before: the user\'s dance stops with a 502 page', async () => {
    const before = (await requestTokenParams()).length
    const click = await clickLink(strict.url, await authorizeLink(strict.url, 'user=bob'))
    // A 1.0a request-token request names its callback (RFC 5849 §2.1): the provider records what it gets.
    expect((await requestTokenParams(before)).map((names) => names.includes('oauth_callback'))).toEqual([true])
    expect(click.status, click.text).toBe(502)
    expect(click.headers.location).toBeUndefined()
    expect(click.text).toContain('oauth_callback_confirmed=true (RFC 5849, section 2.1)')
    const test = await send(strict.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: ADMIN })
    expect(test.json<{ ok: boolean; message: string }>().message).toContain('got HTTP 200 without oauth_callback_confirmed')
  })

  it('check prints no warning and the console view says the setting is off', () => {
    const checked = runCheck(join(dir, 'strict.yaml'))
    expect(checked.ok, checked.output).toBe(true)
    expect(checked.output).not.toContain('warning')
    expect(profileViews(strict.ref.current)[0]?.legacyOAuth10).toBe(false)
  })
})

describe('parseTokenReply with legacyOAuth10 (seeded property)', () => {
  const profile = { name: 'p', config: { legacyOAuth10: true } } as unknown as Profile
  const reply = (body: string): Parameters<typeof parseTokenReply>[2] => ({ method: 'POST', url: 'https://p.test/rt', endpoint: 'p', status: 200, headers: {}, body, whole: true, utf8: true })

  it('takes a request token whatever oauth_callback_confirmed says, or without it; still needs the token pair', () => {
    const value = fc.oneof(fc.constantFrom('true', 'false', 'TRUE', '', '1'), fc.string({ maxLength: 12 }))
    fc.assert(
      fc.property(fc.option(value, { nil: undefined }), fc.boolean(), (confirmed, withSecret) => {
        const params = new URLSearchParams({ oauth_token: 't0k' })
        if (withSecret) params.set('oauth_token_secret', 's3c')
        if (confirmed !== undefined) params.set('oauth_callback_confirmed', confirmed)
        const parse = (): unknown => parseTokenReply(profile, 'request-token', reply(params.toString()))
        if (withSecret) expect(parse()).toEqual({ token: 't0k', secret: 's3c' })
        else expect(parse).toThrow(/without oauth_token and oauth_token_secret/)
      }),
      { seed: 0x1010, numRuns: 200 },
    )
  })
})
