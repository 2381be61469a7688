/**
 * The whole three-legged dance against the python-oauthlib provider, reached over mTLS
 * (the provider's API port requires the gateway's client certificate): 401 with an
 * authorize link → request token → approval → callback → access token stored sealed → the
 * user's next proxied call is signed with it; revocation. Run against every topology: in
 * this process (SQLite), `--workers 2` (SQLite), two replicas on Redis with every request
 * going to the other replica than the one before.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, gatewayYaml, pathOf, rawValues, requestTokenOf, startDanceProvider, type DanceProvider, clickLink } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
})

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const asUser = (user: string): Record<string, string> => ({ 'x-gateway-user': user })

describe.each(TOPOLOGIES)('three-legged dance over mTLS (%s)', (kind) => {
  const { gw, topo, dir } = useTopology(kind, 'dance', (store) => gatewayYaml({ pki, provider, store }))
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

  it('JSON start (admin) → approve → callback → the next call is signed with the new token; replay refused', async () => {
    expect((await send(gw.url, '/gateway/oauth1/partner/authorize?user=alice&format=json')).status).toBe(401)
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize?user=alice', { headers: { ...admin, accept: 'application/json' } })
    expect(start.status, start.text).toBe(200)
    const { authorizeUrl, expiresIn } = start.json<{ authorizeUrl: string; expiresIn: number }>()
    expect(authorizeUrl.startsWith(`${provider.browserUrl}/authorize?oauth_token=`)).toBe(true)
    expect(expiresIn).toBe(600)

    const callback = await provider.decide(requestTokenOf(authorizeUrl), 'approve')
    expect(onGateway(callback, '/gateway/oauth1/callback?')).toBe(true)
    const done = await send(gw.url, pathOf(callback))
    expect(done.status, done.text).toBe(200)
    expect(done.text).toContain('Authorization complete')
    expect(done.headers['content-type']).toMatch(/^text\/html/)

    const replay = await send(gw.url, pathOf(callback))
    expect(replay.status).toBe(400)
    expect(replay.text).toContain('unknown, expired or already completed')

    const call = await send(gw.url, '/proxy/partner/resource/hello?q=1', { headers: asUser('alice') })
    expect(call.status, call.text).toBe(200)
    const verified = call.json<{ ok: boolean; token: string; client_key: string; client_cert: { subject: string[][] } }>()
    const issued = (await provider.state()).access_tokens.find((t) => t.token === verified.token)
    expect(verified.ok).toBe(true)
    expect(issued?.client_key).toBe('dancegatewayconsumer01')
    expect(verified.client_cert.subject).toContainEqual(['commonName', 'bot-runtime'])

    // Encryption at rest: neither the token nor its secret appears in any stored value.
    const rows = await rawValues(topo().store)
    expect(rows.map((r) => r.key)).toContain('oauth1:token:alice:partner:')
    for (const r of rows) {
      expect(r.value).not.toContain(issued!.secret)
      expect(r.value).not.toContain(issued!.token)
    }
    if (kind !== 'replicas') {
      for (const f of readdirSync(dir()).filter((n) => n.startsWith('state.db'))) {
        const bytes = readFileSync(join(dir(), f)).toString('latin1')
        expect(bytes.includes(issued!.secret), f).toBe(false)
      }
    }
  })

  it('the browser link from the 401: previews (GET, HEAD, a POST without the page\'s token) use nothing; the click is one-time', async () => {
    const miss = await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('bob') })
    const link = miss.json<{ errors: { authorizeUrl: string }[] }>().errors[0]!.authorizeUrl
    const issued = (await provider.state()).request_tokens.length
    for (const method of ['GET', 'HEAD', 'GET']) {
      const preview = await send(gw.url, pathOf(link), { method, headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } })
      expect([method, preview.status, preview.headers['cache-control']]).toEqual([method, 200, 'no-store'])
    }
    const forged = await send(gw.url, pathOf(link), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=guess' })
    expect(forged.status).toBe(403)
    expect((await provider.state()).request_tokens).toHaveLength(issued)
    const open = await clickLink(() => gw.url, link)
    expect(open.status).toBe(303)
    const location = String(open.headers.location)
    expect(location.startsWith(`${provider.browserUrl}/authorize?oauth_token=`)).toBe(true)
    expect((await send(gw.url, pathOf(link))).status).toBe(400)
    const done = await send(gw.url, pathOf(await provider.decide(requestTokenOf(location), 'approve')))
    expect(done.status).toBe(200)
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('bob') })).status).toBe(200)
  })

  it('a denied approval shows the failure page and stores nothing', async () => {
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize?user=dora&format=json', { headers: admin })
    const callback = await provider.decide(requestTokenOf(start.json<{ authorizeUrl: string }>().authorizeUrl), 'deny')
    const page = await send(gw.url, pathOf(callback))
    expect(page.status).toBe(403)
    expect(page.text).toContain('Authorization failed')
    const keys = (await rawValues(topo().store)).map((r) => r.key)
    expect(keys.filter((k) => k.includes('dora') || k.startsWith('oauth1:request:'))).toEqual([])
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
