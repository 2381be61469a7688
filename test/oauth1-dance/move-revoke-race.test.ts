/**
 * A revoke that lands while a token is being moved (the Latin-1 migration of X-Gateway-User ids,
 * identityToMerge) wins: the move read the token, the operator's revoke (another worker or
 * replica) deleted it, and the move then wrote its copy under the new key: the revoked token lived
 * on, and signed the user's calls (found by review of 3c260df). Real SQLite and real Redis (a
 * key prefix of this test's own); the interleaving is forced by holding the move's write until the
 * revoke, made through a second store handle, is done. A later token under the revoked key is
 * another record: an earlier revoke never takes it.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createTokenRepo, tokenKey } from '../../src/dance/index.js'
import { createSealer, type Store } from '../../src/store/index.js'
import { STORE_BACKENDS } from '../support/store-backends.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
// Recent: an anonymous user's token ends callers.anonymousTtl (here an hour) after it was obtained.
const token = { token: 'tok-0000', tokenSecret: 'sec-0000', obtainedAt: Date.now() }
const known = (user: string) => ({ space: 'bot', profile: 'partner', tenant: 'acme', user, anonymous: false })
const anon = (user: string) => ({ ...known(user), anonymous: true })

/** `store`, whose putIfAbsent of `key` first waits for `before()` (the write of a move, held). */
function holdingWrite(store: Store, key: string, before: () => Promise<unknown>): Store {
  return new Proxy(store, {
    get(target, p) {
      if (p === 'putIfAbsent') return async (k: string, v: string, ttl?: number) => (k === key && (await before()), target.putIfAbsent(k, v, ttl))
      const v: unknown = Reflect.get(target, p)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('a revoke during a move, on $name', (backend) => {
  async function withStores(run: (mover: (hold: () => Promise<unknown>, key: string) => ReturnType<typeof createTokenRepo>, operator: ReturnType<typeof createTokenRepo>, store: Store) => Promise<void>): Promise<void> {
    const h = await backend.setup()
    try {
      const peer = h.openPeer()
      if (peer === undefined) throw new Error('a shared backend has peers')
      const operator = createTokenRepo({ store: peer, sealer, anonymousTtlMs: 3_600_000 })
      await run((hold, key) => createTokenRepo({ store: holdingWrite(h.store, key, hold), sealer, anonymousTtlMs: 3_600_000 }), operator, h.store)
    } finally {
      await h.cleanup()
    }
  }

  it.each([
    ['the former id (josÃ©)', 'josÃ©'],
    ['the user (josé)', 'josé'],
  ])('the migration: a revoke of %s between its read and its write leaves no token', async (_n, revoked) =>
    withStores(async (mover, operator, store) => {
      await operator.saveToken(known('josÃ©'), token)
      let revokedOk: boolean | undefined
      const repo = mover(async () => (revokedOk = await operator.revoke({ space: 'bot', profile: 'partner', tenant: 'acme', user: revoked })), tokenKey(known('josé')))
      expect(await repo.findOrAdoptToken(known('josé'), 'josÃ©')).toBeUndefined()
      expect(revokedOk).toBe(true)
      expect(await store.keys('oauth1:token:')).toEqual([])
    }))

  it('identityToMerge: a revoke of the anonymous user between its read and its write leaves no token', async () =>
    withStores(async (mover, operator, store) => {
      await operator.saveToken(anon('visitor-1'), token)
      const repo = mover(() => operator.revoke({ space: 'bot', profile: 'partner', tenant: 'acme', user: 'visitor-1' }), tokenKey(known('alice')))
      expect(await repo.mergeAnonymous('bot', 'visitor-1', 'alice', new Set(['partner']))).toBe(0)
      expect(await repo.findToken(known('alice'))).toBeUndefined()
      expect([...(await store.keys('oauth1:token:')), ...(await store.keys('oauth1:anon:'))]).toEqual([])
    }))

  it('a token stored under a revoked key afterwards still moves (an earlier revoke never takes a later token)', async () =>
    withStores(async (mover, operator) => {
      await operator.saveToken(known('josÃ©'), token)
      expect(await operator.revoke({ space: 'bot', profile: 'partner', tenant: 'acme', user: 'josÃ©' })).toBe(true)
      const later = { ...token, token: 'tok-later' }
      await operator.saveToken(known('josÃ©'), later)
      await operator.saveToken(anon('visitor-2'), later)
      const repo = mover(() => Promise.resolve(), '')
      expect(await repo.findOrAdoptToken(known('josé'), 'josÃ©')).toEqual(later)
      expect(await operator.revoke({ space: 'bot', profile: 'partner', tenant: 'acme', user: 'visitor-2' })).toBe(true)
      await operator.saveToken(anon('visitor-2'), later)
      expect(await repo.mergeAnonymous('bot', 'visitor-2', 'bob', new Set(['partner']))).toBe(1)
      expect(await repo.findToken(known('bob'))).toEqual(later)
    }))
})
