/**
 * The repository's reusable link (review rev-d): a remembered link sealed under a key since
 * retired is as good as none (the failing call still gets its 401 and a link, not a 500 for the
 * pointer's life); an anonymous user's link, whose life callers.anonymousTtl shortens, is
 * remembered for half that life, so one handed out again has at least half of it left.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTokenRepo, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, MemoryStore } from '../../src/store/index.js'

const k1 = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const k2 = createSealer([{ id: 'k2', key: randomBytes(32) }], 'k2')
const linkKey = (id: string): string => `oauth1:link:${createHash('sha256').update(id).digest('base64url')}`
const TEN_MINUTES = 10 * 60_000

afterEach(() => {
  vi.useRealTimers()
})

describe('reusableLink', () => {
  it('a remembered link sealed under a retired key: a new link, not an error', async () => {
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    const owner: TokenOwner = { space: 'bot', profile: 'partner', user: 'zed', anonymous: false }
    const first = await createTokenRepo({ store, sealer: k1, anonymousTtlMs: 60_000 }).reusableLink(owner, TEN_MINUTES)
    // k1 removed (a rotation): the pointer cannot be opened.
    const repo = createTokenRepo({ store, sealer: k2, anonymousTtlMs: 60_000 })
    const second = await repo.reusableLink(owner, TEN_MINUTES)
    expect(second).not.toBe(first)
    expect(await repo.reusableLink(owner, TEN_MINUTES)).toBe(second)
  })

  it('an anonymous user\'s link is handed out again only while at least half its (anonymousTtl) life is left', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    const repo = createTokenRepo({ store, sealer: k1, anonymousTtlMs: 60_000 })
    const owner: TokenOwner = { space: 'bot', profile: 'partner', user: 'guest', anonymous: true }
    const first = await repo.reusableLink(owner, TEN_MINUTES)
    vi.advanceTimersByTime(29_000)
    expect(await repo.reusableLink(owner, TEN_MINUTES)).toBe(first)
    vi.advanceTimersByTime(2_000)
    // 31 s of the link's 60 gone: a new one, never the one with 29 s left.
    const second = await repo.reusableLink(owner, TEN_MINUTES)
    expect(second).not.toBe(first)
    expect(await store.get(linkKey(first))).toBeDefined()
  })
})
