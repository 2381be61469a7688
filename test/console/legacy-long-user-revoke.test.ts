/**
 * User ids longer than today's 256-unit limit, which console links allowed before it, are listed
 * on the Users page and must stay revocable: the console's Revoke and DELETE
 * /gateway/oauth1/<profile>/tokens/<user> take any id a token is stored under (never empty, no
 * unpaired surrogate), while every path that uses an id keeps the limit. The record is written
 * straight into the gateway's real SQLite file, as the earlier version left it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedTokenKey } from '../../src/dance/index.js'
import { openSqliteStore } from '../../src/store/index.js'
import { send } from '../support/gateway.js'
import { ADMIN_TOKEN } from '../oauth1-dance/dance-support.js'
import { startProviderlessConsole, type ProviderlessConsole, type Reply } from './console-support.js'

const LONG = 'legacy-'.padEnd(300, 'é')
const VERY_LONG = 'x'.repeat(2000)

let c: ProviderlessConsole

/** Writes a token record for `user` (user space "") straight into the gateway's SQLite file. */
async function writeLegacy(user: string): Promise<void> {
  const s = openSqliteStore({ file: join(c.dir, 'state.db') })
  try {
    await s.put(storedTokenKey({ space: '', profile: 'partner', user, anonymous: false }), JSON.stringify({ obtainedAt: 1_600_000_000_000, token: 'sealed' }))
  } finally {
    await s.close()
  }
}
const listed = async (): Promise<string[]> => (JSON.parse((await c.get('users')).text) as { holders: { user: string }[] }).holders.map((h) => h.user)
const msgOf = (r: Reply): string => (JSON.parse(r.text) as { errors: { msg: string }[] }).errors[0]?.msg ?? ''

beforeAll(async () => {
  c = await startProviderlessConsole('legacy-long-user-')
})

afterAll(async () => {
  await c?.close()
})

describe('a stored user id longer than today\'s limit', () => {
  it('is listed and revoked by the console\'s Revoke', async () => {
    await writeLegacy(LONG)
    expect(await listed()).toEqual([LONG])
    const r = await c.post('users/revoke', { space: '', profile: 'partner', user: LONG })
    expect(r.status, r.text).toBe(200)
    expect(await listed()).toEqual([])
    // Nothing stored under it any more: not found, not a refusal of the id.
    expect((await c.post('users/revoke', { space: '', profile: 'partner', user: LONG })).status).toBe(404)
  })

  it('is revoked by DELETE /gateway/oauth1/<profile>/tokens/<user>, in its space or in every space', async () => {
    await writeLegacy(LONG)
    await writeLegacy(VERY_LONG)
    const del = (user: string, query: string): Promise<Reply> => send(c.ops.gw.url, `/gateway/oauth1/partner/tokens/${encodeURIComponent(user)}${query}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const r1 = await del(LONG, '?app=')
    expect(r1.status, r1.text).toBe(200)
    const r2 = await del(VERY_LONG, '')
    expect(r2.status, r2.text).toBe(200)
    expect(await listed()).toEqual([])
    expect((await del(LONG, '')).status).toBe(404)
  })

  it('is still refused wherever an id would be used (a new authorize link); an empty id is refused by revoke too', async () => {
    const link = await c.post('users/link', { app: '', profile: 'partner', user: LONG })
    expect([link.status, msgOf(link)]).toEqual([400, '"user" must be at most 256 characters'])
    const empty = await c.post('users/revoke', { space: '', profile: 'partner', user: '' })
    expect(empty.status).toBe(400)
  })
})
