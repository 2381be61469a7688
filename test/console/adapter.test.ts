/**
 * The Users page's data on every store backend: tokens the dance saved (through its own
 * repository) are listed by owner and time from another instance on the same data (a
 * worker, a replica), without a sealer and so without ever opening a token; Revoke from
 * there removes them. Anonymous users' tokens are listed too: they live in the same store
 * (expiring after callers.anonymousTtl). Each token shows its user space; an earlier version's
 * token (no space in its key) shows none and is revocable.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createTokenRepo } from '../../src/dance/index.js'
import { listTokenHolders, revokeToken } from '../../src/console/adapter.js'
import { createSealer } from '../../src/store/index.js'
import { STORE_BACKENDS, stopStoreServers } from '../support/store-backends.js'

// Recent: an anonymous user's token ends callers.anonymousTtl (here an hour) after it was obtained.
const anonObtained = Date.now()
const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')

// The Cluster and the TLS server the backends start on first use are this file's to stop.
afterAll(stopStoreServers, 30_000)

describe.each(STORE_BACKENDS.filter((b) => b.name !== 'memory'))('console token holders on $name', (backend) => {
  it('lists who holds a token (never the token) from another instance, and revokes there', async () => {
    const h = await backend.setup()
    try {
      const repo = createTokenRepo({ store: h.store, sealer, anonymousTtlMs: 3_600_000 })
      await repo.saveToken({ space: 'bot', profile: 'partner', user: 'erin', anonymous: false }, { token: 'tok-erin-0000', tokenSecret: 'sec-erin-0000', obtainedAt: 1_700_000_000_000 })
      // The same id in another app's user space is another user, listed and revoked apart.
      await repo.saveToken({ space: 'other', profile: 'partner', user: 'erin', anonymous: false }, { token: 'tok-erin-1111', tokenSecret: 'sec-erin-1111', obtainedAt: 1_700_000_200_000 })
      await repo.saveToken({ space: 'a/b', profile: 'partner', tenant: 'acme', user: 'a:b c', anonymous: false }, { token: 'tok-odd-0000', tokenSecret: 'sec-odd-0000', obtainedAt: 1_700_000_100_000 })
      await repo.saveToken({ space: 'bot', profile: 'partner', user: 'anon-1', anonymous: true }, { token: 'tok-anon-0000', tokenSecret: 'sec-anon-0000', obtainedAt: anonObtained })
      // A token an earlier version stored (no user space in its key): listed and revocable, never read.
      await h.store.put('oauth1:token:old%2Fuser:partner:', JSON.stringify({ obtainedAt: 5, token: 'sealed' }))
      const peer = h.openPeer() as NonNullable<ReturnType<typeof h.openPeer>>
      // No sealer: the console cannot open a token even if it tried.
      const holders = await listTokenHolders(peer)
      expect(holders).toEqual([
        { space: 'a/b', profile: 'partner', tenant: 'acme', user: 'a:b c', shown: 'a:b c', obtainedAt: 1_700_000_100_000 },
        { space: 'bot', profile: 'partner', user: 'anon-1', shown: 'anon-1', anonymous: true, obtainedAt: anonObtained },
        { space: 'bot', profile: 'partner', user: 'erin', shown: 'erin', obtainedAt: 1_700_000_000_000 },
        { space: 'other', profile: 'partner', user: 'erin', shown: 'erin', obtainedAt: 1_700_000_200_000 },
        { profile: 'partner', user: 'old/user', shown: 'old/user', obtainedAt: 5 },
      ])
      expect(JSON.stringify(holders)).not.toMatch(/tok-|sec-/)
      expect(await repo.findToken({ space: '', profile: 'partner', user: 'old/user', anonymous: false })).toBeUndefined()
      expect(await revokeToken(peer, { space: 'a/b', profile: 'partner', tenant: 'acme', user: 'a:b c' })).toBe(true)
      expect(await revokeToken(peer, { space: 'bot', profile: 'partner', user: 'nobody' })).toBe(false)
      expect((await listTokenHolders(peer)).map((t) => t.user)).toEqual(['anon-1', 'erin', 'erin', 'old/user'])
      // An anonymous user's token is revoked as theirs: the known user of the same id has none.
      expect(await revokeToken(peer, { space: 'bot', profile: 'partner', user: 'anon-1' })).toBe(false)
      expect(await revokeToken(peer, { space: 'bot', profile: 'partner', user: 'anon-1', anonymous: true })).toBe(true)
      // One space's erin: the other's stays.
      expect(await revokeToken(peer, { space: 'other', profile: 'partner', user: 'erin' })).toBe(true)
      expect(await repo.findToken({ space: 'bot', profile: 'partner', user: 'erin', anonymous: false })).toMatchObject({ token: 'tok-erin-0000' })
      expect(await revokeToken(peer, { profile: 'partner', user: 'old/user' })).toBe(true)
      expect((await listTokenHolders(peer)).map((t) => [t.space, t.user])).toEqual([['bot', 'erin']])
      expect(await repo.findToken({ space: 'a/b', profile: 'partner', tenant: 'acme', user: 'a:b c', anonymous: false })).toBeUndefined()
    } finally {
      await h.cleanup()
    }
  })
})
