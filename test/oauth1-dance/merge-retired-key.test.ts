/**
 * identityToMerge meeting a record sealed under a seal key a reload has since retired (README: as
 * good as expired, never a 500). The anonymous user's unreadable token: dropped, nothing moved, and
 * the user's other anonymous tokens still move (before, the merge threw, the token exchange failed
 * with a 500 after its jti was spent, and every later merge of that user failed alike). The known
 * user's unreadable token: replaced by the anonymous user's readable one (before, it stayed, and the
 * readable one was deleted: the user was left with neither). Real SQLite and real Redis.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createTokenRepo, tokenKey } from '../../src/dance/index.js'
import { createSealer, type Store } from '../../src/store/index.js'
import { STORE_BACKENDS } from '../support/store-backends.js'

const k1 = { id: 'k1', key: randomBytes(32) }
const k2 = { id: 'k2', key: randomBytes(32) }
// Before the reload both keys, k1 active; after it only k2.
const before = createSealer([k1, k2], 'k1')
const after = createSealer([k2], 'k2')
const owner = (user: string, profile: string, anonymous: boolean) => ({ space: 'bot', profile, user, anonymous })
type TokenRepo = ReturnType<typeof createTokenRepo>
// Recent: an anonymous user's token ends callers.anonymousTtl (here an hour) after it was obtained.
const OBTAINED = Date.now()
const token = (t: string) => ({ token: t, tokenSecret: `${t}-secret`, obtainedAt: OBTAINED })

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('a merge across a retired seal key, on $name', (backend) => {
  /** `run` with the repository before the reload (k1 active) and after it (k2 only), on one fresh store. */
  async function across(run: (repo: { before: TokenRepo; after: TokenRepo; store: Store }) => Promise<void>): Promise<void> {
    const h = await backend.setup()
    try {
      await run({ before: createTokenRepo({ store: h.store, sealer: before, anonymousTtlMs: 3_600_000 }), after: createTokenRepo({ store: h.store, sealer: after, anonymousTtlMs: 3_600_000 }), store: h.store })
    } finally {
      await h.cleanup()
    }
  }

  it('drops the anonymous user\'s unreadable token and moves the readable ones', () =>
    across(async ({ before: old, after: repo, store }) => {
      await old.saveToken(owner('anon-1', 'old', true), token('sealed-under-k1'))
      await repo.saveToken(owner('anon-1', 'fresh', true), token('sealed-under-k2'))
      expect(await repo.mergeAnonymous('bot', 'anon-1', 'known-1', new Set(['old', 'fresh']))).toBe(1)
      expect(await repo.findToken(owner('known-1', 'fresh', false))).toEqual(token('sealed-under-k2'))
      expect(await store.get(tokenKey(owner('anon-1', 'old', true)))).toBeUndefined()
      expect(await store.get(tokenKey(owner('known-1', 'old', false)))).toBeUndefined()
    }))

  it('replaces the known user\'s unreadable token with the anonymous user\'s readable one', () =>
    across(async ({ before: old, after: repo, store }) => {
      await old.saveToken(owner('known-2', 'p', false), token('old-known'))
      await repo.saveToken(owner('anon-2', 'p', true), token('new-anon'))
      expect(await repo.mergeAnonymous('bot', 'anon-2', 'known-2', new Set(['p']))).toBe(1)
      expect(await repo.findToken(owner('known-2', 'p', false))).toEqual(token('new-anon'))
      expect(await store.get(tokenKey(owner('anon-2', 'p', true)))).toBeUndefined()
    }))

  it('still leaves the known user\'s readable token in place (an anonymous session never replaces it)', () =>
    across(async ({ after: repo }) => {
      await repo.saveToken(owner('known-3', 'p', false), token('theirs'))
      await repo.saveToken(owner('anon-3', 'p', true), token('anon'))
      expect(await repo.mergeAnonymous('bot', 'anon-3', 'known-3', new Set(['p']))).toBe(0)
      expect(await repo.findToken(owner('known-3', 'p', false))).toEqual(token('theirs'))
    }))
})
