/**
 * identityToMerge as a property of the token repository, over generated stores: whatever
 * tokens known and anonymous users of several user spaces hold, a merge of anonymous id A into
 * known user K by an app of space S for its profiles P changes exactly this — each of S's A's
 * anonymous tokens of a profile in P goes to S's K where K holds none for that profile and
 * tenant, and is dropped where K does — and nothing else: no known user's token moves, changes
 * or disappears, and no other anonymous entry (another space's A included) is touched. Also:
 * an id read as anonymous, or in another space, never finds the known user's token.
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createTokenRepo, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, MemoryStore } from '../../src/store/index.js'

// Recent: an anonymous user's token ends callers.anonymousTtl (here an hour) after it was obtained.
const OBTAINED = Date.now()
const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
// Few names, so generated entries collide on users, profiles and tenants.
const user = fc.constantFrom('alice', 'bob', 'a:b c', 'anon-1', 'anon-2', '%41', '')
const profile = fc.constantFrom('partner', 'bank', 'p:x')
const tenant = fc.option(fc.constantFrom('t1', 't2'), { nil: undefined })
// "" is the space of callers without an app; "a/b" and "a" test the "/" that ends a space.
const space = fc.constantFrom('bot', 'other', '', 'a/b', 'a')
const owner: fc.Arbitrary<TokenOwner> = fc.record({ space, user, profile, tenant, anonymous: fc.boolean() }, { requiredKeys: ['space', 'user', 'profile', 'anonymous'] })

const id = (o: TokenOwner): string => JSON.stringify([o.space, o.anonymous, o.user, o.profile, o.tenant ?? ''])

describe('identityToMerge (token repository)', () => {
  it('moves exactly the anonymous user\'s tokens of the app\'s profiles, never over or from a known user', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(owner, { selector: id, maxLength: 12 }),
        user.filter((u) => u !== ''),
        user.filter((u) => u !== ''),
        fc.subarray(['partner', 'bank', 'p:x']),
        space,
        async (owners, anonymous, known, profiles, mergingSpace) => {
          const repo = createTokenRepo({ store: new MemoryStore(), sealer, anonymousTtlMs: 3_600_000 })
          const before = new Map<string, { owner: TokenOwner; token: string }>()
          for (const [i, o] of owners.entries()) {
            const token = `tok-${i}`
            await repo.saveToken(o, { token, tokenSecret: `sec-${i}`, obtainedAt: OBTAINED + i })
            before.set(id(o), { owner: o, token })
          }
          await repo.mergeAnonymous(mergingSpace, anonymous, known, new Set(profiles))

          const expected = new Map([...before].map(([k, v]) => [k, v.token]))
          for (const { owner: o, token } of before.values()) {
            if (o.space !== mergingSpace || !o.anonymous || o.user !== anonymous || !profiles.includes(o.profile)) continue
            expected.delete(id(o))
            const target = id({ ...o, user: known, anonymous: false })
            if (!expected.has(target)) expected.set(target, token)
          }
          // Every owner that held or may now hold a token, read back through the repository.
          const spaces = ['bot', 'other', '', 'a/b', 'a']
          const candidates = [...before.values()].flatMap(({ owner: o }) => [o, { ...o, anonymous: !o.anonymous }, ...spaces.map((s) => ({ ...o, space: s, user: known, anonymous: false }))])
          for (const o of candidates) {
            const found = await repo.findToken(o)
            expect(found?.token, id(o)).toBe(expected.get(id(o)))
          }
        },
      ),
      { seed: 0x3e96e, numRuns: 2000 },
    )
  })
})
