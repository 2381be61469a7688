/**
 * The Users page's data on every store backend: tokens the dance saved (through its own
 * repository) are listed by owner and time from another instance on the same data (a
 * worker, a replica), without a sealer and so without ever opening a token; Revoke from
 * there removes them.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createTokenRepo } from '../../src/api/oauth1-tokens.js'
import { listTokenHolders, revokeToken } from '../../src/console/adapter.js'
import { createSealer, MemoryStore } from '../../src/store/index.js'
import type { Services } from '../../src/services/index.js'
import { STORE_BACKENDS } from '../support/store-backends.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')

describe.each(STORE_BACKENDS.filter((b) => b.name !== 'memory'))('console token holders on $name', (backend) => {
  it('lists who holds a token (never the token) from another instance, and revokes there', async () => {
    const h = await backend.setup()
    try {
      const ephemeral = new MemoryStore()
      const repo = createTokenRepo({ store: h.store, ephemeral, sealer, anonymousTtlMs: () => 60_000 })
      await repo.saveToken({ profile: 'partner', user: 'erin', anonymous: false }, { token: 'tok-erin-0000', tokenSecret: 'sec-erin-0000', obtainedAt: 1_700_000_000_000 })
      await repo.saveToken({ profile: 'partner', tenant: 'acme', user: 'a:b c', anonymous: false }, { token: 'tok-odd-0000', tokenSecret: 'sec-odd-0000', obtainedAt: 1_700_000_100_000 })
      await repo.saveToken({ profile: 'partner', user: 'anon-1', anonymous: true }, { token: 'tok-anon-0000', tokenSecret: 'sec-anon-0000', obtainedAt: 1 })
      const peer = h.openPeer() as NonNullable<ReturnType<typeof h.openPeer>>
      // No sealer: the console cannot open a token even if it tried.
      const services: Services = { store: peer, ephemeral: new MemoryStore(), close: async () => {} }
      const holders = await listTokenHolders(services)
      expect(holders).toEqual([
        { profile: 'partner', tenant: 'acme', user: 'a:b c', obtainedAt: 1_700_000_100_000 },
        { profile: 'partner', user: 'erin', obtainedAt: 1_700_000_000_000 },
      ])
      expect(JSON.stringify(holders)).not.toMatch(/tok-|sec-/)
      const withSealer: Services = { ...services, sealer }
      expect(await revokeToken(withSealer, { profile: 'partner', tenant: 'acme', user: 'a:b c' })).toBe(true)
      expect(await revokeToken(withSealer, { profile: 'partner', user: 'nobody' })).toBe(false)
      expect((await listTokenHolders(services)).map((t) => t.user)).toEqual(['erin'])
      expect(await repo.findToken({ profile: 'partner', tenant: 'acme', user: 'a:b c', anonymous: false })).toBeUndefined()
    } finally {
      await h.cleanup()
    }
  })
})
