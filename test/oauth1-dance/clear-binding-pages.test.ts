/**
 * What a browser sees of a dance record whose clear fields were edited in the store by a writer
 * without the seal keys (a second connection to the gateway's SQLite file): the dance's HTML
 * failure page (400), never a 500 and nothing of the record. A pending request given another
 * dance's browser binding (so that dance's browser, the writer's, could complete it with its own
 * cookie) is used up without the provider being asked for an access token; a link whose origin was
 * changed is unknown. So with a record without the binding (a release before c5c6d98f wrote it, or
 * the field was deleted in the store): an anonymous user's token is no token (the 401 with a link),
 * a pending request and a link get their failure page.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { linkKey, pendingKey, tokenKey } from '../../src/dance/token-keys.js'
import { openSqliteStore, type Store } from '../../src/store/index.js'
import { send } from '../support/gateway.js'
import { ADMIN_TOKEN, authorizeLink, authorizeUser, cookieFor, pathOf, startInBrowser } from './dance-support.js'
import { AUD, botJwt, useDanceGateway } from './dance-gateway.js'

const SECRET = 'clear-binding-pages-hs256-secret-32-bytes'
const dance = useDanceGateway({
  prefix: 'clear-binding-pages-',
  callers: `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }`,
})

/** The raw record at `key`, edited and written back by a writer holding no seal key. */
async function edit(writer: Store, key: string, change: (r: Record<string, unknown>) => void): Promise<void> {
  const stored = JSON.parse((await writer.get(key)) as string) as Record<string, unknown>
  change(stored)
  await writer.put(key, JSON.stringify(stored), 600_000)
}

describe("a dance's clear fields edited in the store", () => {
  it("another dance's browser binding in a pending request: the callback's failure page, no access token asked for; a link's origin changed: the link's", async () => {
    const { gw, provider } = dance
    const writer = openSqliteStore({ file: join(dance.dir, 'state.db') })
    try {
      const alice = await startInBrowser(await authorizeLink(gw.url, 'user=alice'), { provider })
      const mallory = await startInBrowser(await authorizeLink(gw.url, 'user=mallory'), { provider })
      const malloryBinding = (JSON.parse((await writer.get(pendingKey(mallory.requestToken))) as string) as Record<string, unknown>)['browser']
      await edit(writer, pendingKey(alice.requestToken), (r) => void (r['browser'] = malloryBinding))
      // Alice's approval, called back from Mallory's browser (her cookie, named after her own dance, which the binding now names).
      const callbackUrl = await provider.decide(alice.requestToken, 'approve')
      const done = await send(gw.url, pathOf(callbackUrl), { headers: cookieFor(mallory.cookie, callbackUrl) })
      expect([done.status, String(done.headers['content-type'])], done.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(done.text).toContain('data-result="failure"')
      expect(done.text).not.toContain((malloryBinding as { digest: string }).digest)
      expect((await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token')).toEqual([])

      const link = await authorizeLink(gw.url, 'user=bob')
      const id = new URL(link).searchParams.get('link') as string
      await edit(writer, linkKey(id), (r) => void (r['origin'] = 'https://attacker.example'))
      const page = await send(gw.url, pathOf(link))
      expect([page.status, String(page.headers['content-type'])], page.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(page.text).toContain('This authorization link is unknown, expired or already used.')
    } finally {
      await writer.close()
    }
  })

  it('without the binding: an anonymous token is no token (the 401 with a link, nothing merged), a dance its callback\'s failure page, a link its', async () => {
    const { gw, provider } = dance
    const writer = openSqliteStore({ file: join(dance.dir, 'state.db') })
    const unbind = (r: Record<string, unknown>): void => void delete r['clearBinding']
    try {
      // An anonymous user's token.
      const anon = { authorization: `Bearer ${await botJwt(SECRET, { sub: 'anon-unbound', isAnonymous: true })}` }
      await authorizeUser(gw.url, provider, '', anon)
      const call = (): ReturnType<typeof send> => send(gw.url, '/proxy/partner/resource/r', { headers: { 'proxy-authorization': anon.authorization } })
      expect((await call()).status).toBe(200)
      const key = tokenKey({ space: 'bot', user: 'anon-unbound', profile: 'partner', anonymous: true })
      const sealed = JSON.parse((await writer.get(key)) as string) as Record<string, unknown>
      await edit(writer, key, unbind)
      const refused = await call()
      expect(refused.status, refused.text).toBe(401)
      expect(refused.json<{ errors: { code: number; authorizeUrl: string }[] }>().errors[0]?.authorizeUrl).toContain('/gateway/oauth1/partner/authorize?link=')
      const held = Object.values(sealed).filter((v): v is string => typeof v === 'string' && v.length > 20)
      expect(held.length, 'the record\'s sealed values').toBeGreaterThan(0)
      for (const value of held) expect(refused.text).not.toContain(value)
      // The refused read removes it (in the background); stored again without the binding, identityToMerge moves nothing.
      await expect.poll(() => writer.get(key), { timeout: 30_000 }).toBeUndefined()
      await writer.put(key, JSON.stringify(Object.assign({}, sealed, { clearBinding: undefined })), 600_000)
      const merged = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await botJwt(SECRET, { sub: 'known-unbound', identityToMerge: 'anon-unbound', jti: randomUUID() }) }) })
      expect(merged.status, merged.text).toBe(200)
      const asKnown = await send(gw.url, '/proxy/partner/resource/r', { headers: { 'proxy-authorization': `Bearer ${merged.json<{ access_token: string }>().access_token}` } })
      expect(asKnown.status, asKnown.text).toBe(401)
      expect(await writer.get(key)).toBeUndefined()

      // A pending request: the callback's failure page, no access token asked for.
      const before = (await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length
      const started = await startInBrowser(await authorizeLink(gw.url, 'user=carol'), { provider })
      await edit(writer, pendingKey(started.requestToken), unbind)
      const callbackUrl = await provider.decide(started.requestToken, 'approve')
      const done = await send(gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      expect([done.status, String(done.headers['content-type'])], done.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(done.text).toContain('data-result="failure"')
      expect((await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length).toBe(before)

      // A link: its failure page.
      const link = await authorizeLink(gw.url, 'user=dave')
      await edit(writer, linkKey(new URL(link).searchParams.get('link') as string), unbind)
      const page = await send(gw.url, pathOf(link))
      expect([page.status, String(page.headers['content-type'])], page.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(page.text).toContain('This authorization link is unknown, expired or already used.')
    } finally {
      await writer.close()
    }
  })
})
