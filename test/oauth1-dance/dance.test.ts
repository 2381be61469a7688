/**
 * The whole three-legged dance against the python-oauthlib provider, reached over mTLS
 * (the provider's API port requires the gateway's client certificate): 401 with an
 * authorize link → the link's page and button → request token → approval → callback →
 * access token stored sealed → the user's next proxied call is signed with it; revocation.
 * The callback completes only in the browser that clicked the link's button (its cookie);
 * any other callback stores nothing. Run against every topology: in this process (SQLite),
 * `--workers 2` (SQLite), two replicas on Redis with every request going to the other
 * replica than the one before.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, authorizeLink, cookieHeader, danceInBrowser, finishInBrowser, gatewayYaml, pathOf, rawValues, startInBrowser, type StartedDance } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const fx = useDanceProvider()

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const asUser = (user: string): Record<string, string> => ({ 'x-gateway-user': user })

describe.each(TOPOLOGIES)('three-legged dance over mTLS (%s)', (kind) => {
  const { gw, topo, dir } = useTopology(kind, 'dance', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store }))
  /** `url` is `path` on one of the gateway's processes (links name the one that made them). */
  const onGateway = (url: string, path: string): boolean => topo().urls.some((u) => url.startsWith(u + path))

  it('a user without a token gets 401 carrying the authorize link', async () => {
    const res = await send(gw.url, '/proxy/partner/resource/hello', { headers: asUser('alice') })
    expect(res.status, res.text).toBe(401)
    const entry = res.json<{ errors: { msg: string; code: number; authorizeUrl: string }[] }>().errors[0]
    expect(entry?.code).toBe(401)
    expect(onGateway(entry?.authorizeUrl ?? '', '/gateway/oauth1/partner/authorize?link=')).toBe(true)
    expect(entry?.authorizeUrl).toMatch(/\?link=[A-Za-z0-9_-]{32}$/)
    // RFC 9110 §15.5.2: the 401 names its scheme — the OAuth 1.0a profile the user must authorize.
    expect(res.headers['www-authenticate']).toMatch(/^OAuth realm="[^"]+"$/)
  })

  it('JSON start (admin) → the gateway\'s link → click → approve → callback with the cookie → the next call is signed; replay refused', async () => {
    expect((await send(gw.url, '/gateway/oauth1/partner/authorize?user=alice&format=json')).status).toBe(401)
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize?user=alice&app=', { headers: { ...admin, accept: 'application/json' } })
    expect(start.status, start.text).toBe(200)
    const { authorizeUrl, expiresIn } = start.json<{ authorizeUrl: string; expiresIn: number }>()
    // A gateway link, never the provider's URL: the dance starts in the browser that will approve it.
    expect(onGateway(authorizeUrl, '/gateway/oauth1/partner/authorize?link=')).toBe(true)
    expect(authorizeUrl).not.toContain(fx.provider.browserUrl)
    expect(expiresIn).toBe(600)
    // Without format=json the credentialed start redirects to the same kind of link.
    const redirected = await send(gw.url, '/gateway/oauth1/partner/authorize?user=alice&app=', { headers: admin })
    expect(redirected.status).toBe(302)
    expect(onGateway(String(redirected.headers.location), '/gateway/oauth1/partner/authorize?link=')).toBe(true)

    const dance = await danceInBrowser(authorizeUrl, { provider: fx.provider, gateway: () => gw.url })
    expect(dance.page.text).toContain('<b id="holder-user">alice</b>')
    expect(dance.cookie.name).toMatch(/^mtls_gw_dance_[\w-]{22}$/)
    expect(dance.cookie.value).toMatch(/^[\w-]{43}$/)
    expect(dance.cookie.attributes).toMatchObject({ path: '/gateway/oauth1/callback', httponly: '', samesite: 'Lax', 'max-age': '600' })
    expect('secure' in dance.cookie.attributes).toBe(false)
    expect(onGateway(dance.callbackUrl, '/gateway/oauth1/callback?')).toBe(true)
    const done = dance.done
    expect(done.status, done.text).toBe(200)
    expect(done.text).toContain('Authorization complete')
    expect(done.headers['content-type']).toMatch(/^text\/html/)
    expect(dance.cleared).toBe(true)

    const replay = await send(gw.url, pathOf(dance.callbackUrl), { headers: { cookie: cookieHeader(dance.cookie) } })
    expect(replay.status).toBe(400)
    expect(replay.text).toContain('unknown, expired or already completed')

    const call = await send(gw.url, '/proxy/partner/resource/hello?q=1', { headers: asUser('alice') })
    expect(call.status, call.text).toBe(200)
    const verified = call.json<{ ok: boolean; token: string; client_key: string; client_cert: { subject: string[][] } }>()
    const issued = (await fx.provider.state()).access_tokens.find((t) => t.token === verified.token)
    expect(verified.ok).toBe(true)
    expect(issued?.client_key).toBe('dancegatewayconsumer01')
    expect(verified.client_cert.subject).toContainEqual(['commonName', 'bot-runtime'])

    // Encryption at rest: neither the token nor its secret appears in any stored value; nor the cookie.
    const rows = await rawValues(topo().store)
    expect(rows.map((r) => r.key)).toContain('oauth1:token:/alice:partner:')
    for (const r of rows) {
      expect(r.value).not.toContain(issued!.secret)
      expect(r.value).not.toContain(issued!.token)
      expect(r.value).not.toContain(dance.cookie.value)
    }
    if (kind !== 'replicas') {
      for (const f of readdirSync(dir()).filter((n) => n.startsWith('state.db'))) {
        const bytes = readFileSync(join(dir(), f)).toString('latin1')
        expect(bytes.includes(issued!.secret), f).toBe(false)
        expect(bytes.includes(dance.cookie.value), f).toBe(false)
      }
    }
  })

  it('the browser link from the 401: previews (GET, HEAD, a POST without the page\'s token) use nothing; the click is one-time', async () => {
    const miss = await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('bob') })
    const link = miss.json<{ errors: { authorizeUrl: string }[] }>().errors[0]!.authorizeUrl
    const issued = (await fx.provider.state()).request_tokens.length
    for (const method of ['GET', 'HEAD', 'GET']) {
      const preview = await send(gw.url, pathOf(link), { method, headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } })
      expect([method, preview.status, preview.headers['cache-control']]).toEqual([method, 200, 'no-store'])
      expect(preview.headers['set-cookie']).toBeUndefined()
    }
    const forged = await send(gw.url, pathOf(link), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=guess' })
    expect(forged.status).toBe(403)
    expect(forged.headers['set-cookie']).toBeUndefined()
    expect((await fx.provider.state()).request_tokens).toHaveLength(issued)
    const started = await startInBrowser(link, { provider: fx.provider, gateway: () => gw.url })
    expect(started.click.status).toBe(303)
    expect(started.providerUrl.startsWith(`${fx.provider.browserUrl}/authorize?oauth_token=`)).toBe(true)
    expect((await send(gw.url, pathOf(link))).status).toBe(400)
    const { done } = await finishInBrowser(started, { provider: fx.provider, gateway: () => gw.url })
    expect(done.status).toBe(200)
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('bob') })).status).toBe(200)
  })

  it('a denied approval shows the failure page and stores nothing', async () => {
    const dance = await danceInBrowser(await authorizeLink(gw.url, 'user=dora'), { provider: fx.provider, gateway: () => gw.url, decision: 'deny' })
    expect(dance.done.status).toBe(403)
    expect(dance.done.text).toContain('Authorization failed')
    expect(dance.done.text).toContain('denied at the provider')
    expect(dance.cleared).toBe(true)
    const keys = (await rawValues(topo().store)).map((r) => r.key)
    expect(keys.filter((k) => k.includes('dora') || k.startsWith('oauth1:request:'))).toEqual([])
  })

  /** The store key of a request token's pending request (the gateway keys it by digest). */
  const pendingKey = (requestToken: string): string => `oauth1:request:${createHash('sha256').update(requestToken).digest('base64url')}`

  it('a callback without the clicking browser\'s cookie stores nothing and burns the approval: none, another dance\'s, another dance\'s value under this name, forged', async () => {
    // Replicas: the link is opened (page and button) on one, the callback lands on the other.
    const opener = topo().urls[0] as string
    const lander = topo().urls.at(-1) as string
    const start = async (user: string): Promise<StartedDance> => startInBrowser(await authorizeLink(opener, `user=${user}`), { provider: fx.provider, gateway: opener })
    const other = await start('olga')
    const cases: [string, (d: StartedDance) => Record<string, string>, RegExp][] = [
      ['no cookie', () => ({}), /This browser did not start this authorization/],
      ['another dance\'s cookie', () => ({ cookie: cookieHeader(other.cookie) }), /This browser did not start this authorization/],
      ['another dance\'s value under this name', (d) => ({ cookie: cookieHeader({ name: d.cookie.name, value: other.cookie.value }) }), /cookie does not belong to this authorization/],
      ['a forged value', (d) => ({ cookie: `${cookieHeader(other.cookie)}; ${d.cookie.name}=${d.cookie.value.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}` }), /cookie does not belong to this authorization/],
    ]
    for (const [i, [what, header, message]] of cases.entries()) {
      const user = `victim${i}`
      const d = await start(user)
      expect(d.cookie.name).not.toBe(other.cookie.name)
      const callback = await fx.provider.decide(d.requestToken, 'approve')
      const accessTokens = (await fx.provider.state()).access_tokens.length
      const page = await send(lander, pathOf(callback), { headers: header(d) })
      expect([what, page.status]).toEqual([what, 403])
      expect(page.text).toMatch(message)
      expect(page.text).toContain('Nothing was stored')
      // Nothing stored, and the approval is burnt: not even the right cookie redeems it afterwards.
      const keys = (await rawValues(topo().store)).map((r) => r.key)
      expect([what, keys.filter((k) => k.includes(user) || k === pendingKey(d.requestToken))]).toEqual([what, []])
      const late = await send(opener, pathOf(callback), { headers: { cookie: cookieHeader(d.cookie) } })
      expect([what, late.status]).toEqual([what, 400])
      expect((await fx.provider.state()).access_tokens).toHaveLength(accessTokens)
      expect((await send(lander, '/proxy/partner/resource/x', { headers: asUser(user) })).status).toBe(401)
    }
    // The dance whose cookie was borrowed is untouched, and completes in its own browser.
    const { done } = await finishInBrowser(other, { provider: fx.provider, gateway: lander })
    expect(done.status, done.text).toBe(200)
    expect((await send(opener, '/proxy/partner/resource/x', { headers: asUser('olga') })).status).toBe(200)
  })

  it('revoke needs the admin token, then the user must authorize again', async () => {
    expect((await send(gw.url, '/gateway/oauth1/partner/tokens/alice', { method: 'DELETE' })).status).toBe(401)
    const wrong = await send(gw.url, '/gateway/oauth1/partner/tokens/alice', { method: 'DELETE', headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const ok = await send(gw.url, '/gateway/oauth1/partner/tokens/alice', { method: 'DELETE', headers: admin })
    expect(ok.status, ok.text).toBe(200)
    expect((await send(gw.url, '/gateway/oauth1/partner/tokens/alice', { method: 'DELETE', headers: admin })).status).toBe(404)
    expect((await send(gw.url, '/proxy/partner/resource/hello', { headers: asUser('alice') })).status).toBe(401)
  })
})
