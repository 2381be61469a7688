/**
 * A dance's records (a pending request, a one-time authorize link) are bound to their owner: the
 * owner fields, in clear in the stored JSON, are sealed with the record too (ownerBinding), so a
 * record whose owner was edited in the store, or whose sealed fields were put under another owner,
 * is as good as none, as is one moved under another key (the store key is each sealed field's AAD).
 * A record without the binding (written before it existed, or with it deleted in the store) was read
 * by the release that introduced it and is refused now that UNBOUND_OWNER_ACCEPTED is off (the
 * two-release rollout: docs/store.md). Over a real
 * SQLite file, as a property of generated owners and edits (seeded).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boundToOwner, UNBOUND_OWNER_ACCEPTED } from '../../src/dance/owner-binding.js'
import { linkKey, pendingKey } from '../../src/dance/token-keys.js'
import { createTokenRepo, type OAuth1TokenRepo, type PendingRequest, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, openSqliteStore, type Store } from '../../src/store/index.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const TTL = 10 * 60_000
const space = fc.constantFrom('bot', 'other', '', 'a/b')
const user = fc.constantFrom('alice', 'mallory', 'a:b c', 'anon-1', '')
const profile = fc.constantFrom('partner', 'bank')
const tenant = fc.option(fc.constantFrom('t1', 't2'), { nil: undefined })
const owner: fc.Arbitrary<TokenOwner> = fc.record({ space, user, profile, tenant, anonymous: fc.boolean() }, { requiredKeys: ['space', 'user', 'profile', 'anonymous'] })
const sameOwner = (a: TokenOwner, b: TokenOwner): boolean => a.space === b.space && a.user === b.user && a.profile === b.profile && a.tenant === b.tenant && a.anonymous === b.anonymous

let dir: string
let store: Store
let repo: OAuth1TokenRepo
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'owner-binding-'))
  store = openSqliteStore({ file: join(dir, 'state.db') })
  repo = createTokenRepo({ store, sealer, anonymousTtlMs: 3_600_000 })
})
afterAll(async () => {
  await store?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The stored JSON at `key` with its clear owner fields replaced by `to`'s (the sealed ones kept). */
async function reowned(key: string, to: TokenOwner): Promise<string> {
  const stored = JSON.parse((await store.get(key)) as string) as Record<string, unknown>
  delete stored['tenant']
  return JSON.stringify(Object.assign(stored, to.tenant === undefined ? {} : { tenant: to.tenant }, { space: to.space, user: to.user, profile: to.profile, anonymous: to.anonymous }))
}

const pending = (o: TokenOwner): PendingRequest => Object.assign({}, o, { secret: 's3cret', browser: { cookie: { name: 'c', path: '/', secure: false }, digest: 'd' } })

describe("a dance's records are bound to their owner", () => {
  it('a link or a pending request whose clear owner was changed in the store is refused; unchanged, it is read (200 seeded pairs)', async () => {
    await fc.assert(
      fc.asyncProperty(owner, owner, async (from, to) => {
        const id = await repo.createLink(from, TTL)
        const token = randomBytes(12).toString('hex')
        expect(await repo.savePending(token, pending(from), TTL)).toBe(true)
        const edited = !sameOwner(from, to)
        await store.put(linkKey(id), await reowned(linkKey(id), to), TTL)
        await store.put(pendingKey(token), await reowned(pendingKey(token), to), TTL)
        const [peeked, taken, took] = [await repo.peekLink(id), await repo.takeLink(id), await repo.takePending(token)]
        for (const read of [peeked, taken, took]) {
          if (edited) expect(read).toBeUndefined()
          else expect(read).toMatchObject({ space: from.space, user: from.user, profile: from.profile, anonymous: from.anonymous })
        }
      }),
      { seed: 0x0b1d, numRuns: 200 },
    )
  }, 120_000)

  it("a link's or pending request's record moved under another link's or request token's key is refused", async () => {
    const alice: TokenOwner = { space: 'bot', user: 'alice', profile: 'partner', anonymous: false }
    const mallory: TokenOwner = { space: 'bot', user: 'mallory', profile: 'partner', anonymous: false }
    const [aliceLink, malloryLink] = [await repo.createLink(alice, TTL), await repo.createLink(mallory, TTL)]
    await store.put(linkKey(malloryLink), (await store.get(linkKey(aliceLink))) as string, TTL)
    expect(await repo.peekLink(malloryLink)).toBeUndefined()
    expect(await repo.peekLink(aliceLink)).toMatchObject({ user: 'alice' })
    await repo.savePending('req-alice', pending(alice), TTL)
    await repo.savePending('req-mallory', pending(mallory), TTL)
    await store.put(pendingKey('req-mallory'), (await store.get(pendingKey('req-alice'))) as string, TTL)
    expect(await repo.takePending('req-mallory')).toBeUndefined()
    expect(await repo.takePending('req-alice')).toMatchObject({ user: 'alice' })
  })

  it("an earlier release's record (no binding) is refused now that the switch is off, and was read with it on", async () => {
    const alice: TokenOwner = { space: 'bot', user: 'alice', profile: 'partner', anonymous: false }
    const id = await repo.createLink(alice, TTL)
    const pendingId = 'req-unbound'
    await repo.savePending(pendingId, pending(alice), TTL)
    // As an earlier release writes them (or as someone with store access leaves them): the same records without ownerBinding.
    for (const key of [linkKey(id), pendingKey(pendingId)]) {
      const stored = JSON.parse((await store.get(key)) as string) as Record<string, unknown>
      expect(typeof stored['ownerBinding']).toBe('string')
      delete stored['ownerBinding']
      await store.put(key, JSON.stringify(stored), TTL)
    }
    expect(UNBOUND_OWNER_ACCEPTED).toBe(false)
    expect(await repo.peekLink(id)).toBeUndefined()
    expect(await repo.takePending(pendingId)).toBeUndefined()
    // The record itself is intact: with the switch on (the previous release's rule) it is read.
    const raw = JSON.parse((await store.get(linkKey(id))) as string) as Record<string, unknown>
    expect(boundToOwner({ ...alice, ...raw } as TokenOwner, true)).toMatchObject({ user: 'alice', profile: 'partner' })
    expect(boundToOwner({ ...alice, ...raw } as TokenOwner, false)).toBeUndefined()
    expect(await repo.createLink(alice, TTL).then((again) => repo.peekLink(again))).toMatchObject({ user: 'alice' })
  })
})
