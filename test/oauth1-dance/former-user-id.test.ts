/**
 * Tokens an earlier version stored for an X-Gateway-User named in UTF-8 are keyed by the
 * header's Latin-1 reading ("josé" sent as UTF-8 was "josÃ©"). Now that the header is read as
 * UTF-8, such a token is found for the user's own id and moved there once: written under the
 * right key only if none is there, then removed from the former one, through the store
 * interface, on real SQLite and real Redis (a key prefix of this test's own), from two instances
 * at once (two workers, two replicas) and after a restart.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createTokenRepo, tokenKey } from '../../src/dance/index.js'
import { createSealer } from '../../src/store/index.js'
import { STORE_BACKENDS } from '../support/store-backends.js'

/** What an earlier version made of `id` sent UTF-8 encoded in X-Gateway-User: its bytes read as Latin-1. */
const latin1Reading = (id: string): string => Buffer.from(id, 'utf8').toString('latin1')
const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const owner = { space: '', profile: 'partner', tenant: 'acme', user: 'josé', anonymous: false }
const former = latin1Reading(owner.user)
const token = { token: 'tok-jose-0000', tokenSecret: 'sec-jose-0000', fields: { pin: '1234' }, obtainedAt: 1_700_000_000_000 }

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('a token under the former (Latin-1) reading on $name', (backend) => {
  it('is found for the UTF-8 id and moved to it once, by two instances racing, and read from the new key after a restart', async () => {
    const h = await backend.setup()
    try {
      expect(former).toBe('josÃ©')
      await createTokenRepo({ store: h.store, sealer, anonymousTtlMs: 60_000 }).saveToken({ ...owner, user: former }, token)
      const peer = h.openPeer()
      if (peer === undefined) throw new Error('a shared backend has peers')
      const [a, b] = [h.store, peer].map((store) => createTokenRepo({ store, sealer, anonymousTtlMs: 60_000 }))
      const found = await Promise.all([a!.findOrAdoptToken(owner, former), b!.findOrAdoptToken(owner, former)])
      expect(found).toEqual([token, token])
      expect(await h.store.keys('oauth1:token:')).toEqual([tokenKey(owner)])
      const reopened = await h.reopen()
      const again = createTokenRepo({ store: reopened ?? h.store, sealer, anonymousTtlMs: 60_000 })
      expect(await again.findToken(owner)).toEqual(token)
      expect(await again.findToken({ ...owner, user: former })).toBeUndefined()
    } finally {
      await h.cleanup()
    }
  })

  it('a token the user already holds under the UTF-8 id wins; the former stays (listed, revocable); another space, profile or tenant is not moved', async () => {
    const h = await backend.setup()
    try {
      const repo = createTokenRepo({ store: h.store, sealer, anonymousTtlMs: 60_000 })
      const own = { ...token, token: 'tok-own-0000' }
      await repo.saveToken(owner, own)
      await repo.saveToken({ ...owner, user: former }, token)
      expect(await repo.findOrAdoptToken(owner, former)).toEqual(own)
      expect(await repo.findToken({ ...owner, user: former })).toEqual(token)
      for (const other of [{ space: 'bot' }, { profile: 'other' }, { tenant: 'beta' }]) {
        expect(await repo.findOrAdoptToken({ ...owner, ...other }, former)).toBeUndefined()
      }
      expect((await h.store.keys('oauth1:token:')).sort()).toEqual([tokenKey(owner), tokenKey({ ...owner, user: former })].sort())
    } finally {
      await h.cleanup()
    }
  })
})
