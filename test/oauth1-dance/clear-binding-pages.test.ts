/**
 * What a browser sees of a dance record whose clear fields were edited in the store by a writer
 * without the seal keys (a second connection to the gateway's SQLite file): the dance's HTML
 * failure page (400), never a 500 and nothing of the record. A pending request given another
 * dance's browser binding (so that dance's browser, the writer's, could complete it with its own
 * cookie) is used up without the provider being asked for an access token; a link whose origin was
 * changed is unknown.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { linkKey, pendingKey } from '../../src/dance/token-keys.js'
import { openSqliteStore, type Store } from '../../src/store/index.js'
import { send } from '../support/gateway.js'
import { ADMIN_TOKEN, authorizeLink, cookieFor, pathOf, startInBrowser } from './dance-support.js'
import { useDanceGateway } from './dance-gateway.js'

const dance = useDanceGateway({ prefix: 'clear-binding-pages-', callers: `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}` })

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
})
