/**
 * The clear fields of a dance's records are sealed with them (clearBinding, clear-binding.ts): an
 * anonymous user's token's `obtainedAt` and `expiresAt`, a pending request's `createdAt`,
 * `expiresAt` and `browser` (its cookie's digest), a link's `createdAt`, `expiresAt` and `origin`.
 * Whoever writes to the store without the seal keys (here a second connection to the same SQLite
 * file or Redis, writing raw JSON) and edits one finds the record refused as expired: no token, the
 * link's or the callback's failure page. So is a record without the binding (written by a release
 * before c5c6d98f, or with the field deleted in the store), now that UNBOUND_CLEAR_ACCEPTED is off
 * (the rollout's second release), and a token an earlier release moved to another key, its binding
 * copied along, unopened, under the former key's AAD.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clearFieldsBound, LINK_CLEAR_FIELDS, PENDING_CLEAR_FIELDS, TOKEN_CLEAR_FIELDS, UNBOUND_CLEAR_ACCEPTED } from '../../src/dance/clear-binding.js'
import { linkKey, pendingKey, tokenKey } from '../../src/dance/token-keys.js'
import { createTokenRepo, sealedDanceRecords, type OAuth1TokenRepo, type PendingRequest, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, openRedisStore, openSqliteStore, resealRecords, type Store } from '../../src/store/index.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const TTL = 10 * 60_000
const ANON_TTL = 60 * 60_000
const HOUR = 3_600_000
const anonymous: TokenOwner = { space: 'bot', user: 'anon-1', profile: 'partner', anonymous: true }
const known: TokenOwner = { space: 'bot', user: 'alice', profile: 'partner', anonymous: false }
const pending = (o: TokenOwner): PendingRequest => Object.assign({}, o, { secret: 's3cret', browser: { cookie: { name: 'mtls_gw_dance_x', path: '/cb', secure: false }, digest: 'A'.repeat(43) } })

interface Backend {
  readonly name: string
  /** The gateway's store, and a second connection to the same data: the writer without seal keys. */
  open(): { store: Store; writer: Store }
  cleanup(): Promise<void>
}

function sqlite(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'clear-binding-'))
  const file = join(dir, 'state.db')
  return { name: 'sqlite', open: () => ({ store: openSqliteStore({ file }), writer: openSqliteStore({ file }) }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
}

function redis(): Backend {
  const keyPrefix = uniqueRedisPrefix()
  return { name: 'redis', open: () => ({ store: openRedisStore({ url: REDIS_URL, keyPrefix }), writer: openRedisStore({ url: REDIS_URL, keyPrefix }) }), cleanup: () => wipeRedisPrefix(keyPrefix) }
}

/** A clear field's new value: what a writer without the seal keys would put there. */
type Edit = (stored: Record<string, unknown>) => void

const EDITS: Record<string, Record<string, Edit>> = {
  token: {
    'obtainedAt pushed later (outlives a shortened anonymousTtl)': (r) => void (r['obtainedAt'] = (r['obtainedAt'] as number) + 10 * HOUR),
    'expiresAt pushed later': (r) => void (r['expiresAt'] = (r['expiresAt'] as number) + 10 * HOUR),
    'expiresAt removed': (r) => void delete r['expiresAt'],
  },
  pending: {
    'createdAt pushed later': (r) => void (r['createdAt'] = (r['createdAt'] as number) + HOUR),
    'expiresAt pushed later': (r) => void (r['expiresAt'] = (r['expiresAt'] as number) + HOUR),
    "browser's digest swapped for the writer's own cookie's": (r) => void (r['browser'] = Object.assign({}, r['browser'], { digest: 'B'.repeat(43) })),
    "browser's cookie renamed": (r) => void (r['browser'] = { cookie: { name: 'other', path: '/', secure: false }, digest: 'A'.repeat(43) }),
  },
  link: {
    'createdAt pushed later': (r) => void (r['createdAt'] = (r['createdAt'] as number) + HOUR),
    'expiresAt removed': (r) => void delete r['expiresAt'],
    'origin changed': (r) => void (r['origin'] = 'https://attacker.example'),
    'origin removed': (r) => void delete r['origin'],
  },
}

describe.each([['sqlite', sqlite], ['redis', redis]] as const)('clear fields edited in the store without the seal keys (%s)', (_name, make) => {
  let backend: Backend
  let store: Store
  let writer: Store
  let repo: OAuth1TokenRepo
  beforeAll(() => {
    backend = make()
    ;({ store, writer } = backend.open())
    repo = createTokenRepo({ store, sealer, anonymousTtlMs: ANON_TTL })
  })
  afterAll(async () => {
    await store?.close()
    await writer?.close()
    await backend?.cleanup()
  })

  /** The raw record at `key` edited by `edit` and written back by the writer, with a day of store expiry. */
  async function edited(key: string, edit: Edit): Promise<void> {
    const stored = JSON.parse((await writer.get(key)) as string) as Record<string, unknown>
    expect(typeof stored['clearBinding']).toBe('string')
    edit(stored)
    await writer.put(key, JSON.stringify(stored), 24 * HOUR)
  }

  it.each(Object.entries(EDITS['token'] ?? {}))("an anonymous user's token with %s is no token (and is not moved to the known user)", async (_what, edit) => {
    const owner = Object.assign({}, anonymous, { user: `anon-${randomBytes(6).toString('hex')}` })
    await repo.saveToken(owner, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() - 30 * 60_000 })
    expect(await repo.findToken(owner)).toMatchObject({ token: 't' })
    await edited(tokenKey(owner), edit)
    expect(await repo.findToken(owner)).toBeUndefined()
    await repo.saveToken(owner, { token: 't2', tokenSecret: 'ts', obtainedAt: Date.now() })
    await edited(tokenKey(owner), edit)
    expect(await repo.mergeAnonymous(owner.space, owner.user, 'known-' + owner.user, new Set(['partner']))).toBe(0)
    expect(await repo.findToken(Object.assign({}, known, { user: 'known-' + owner.user }))).toBeUndefined()
  })

  it.each(Object.entries(EDITS['pending'] ?? {}).flatMap(([what, edit]) => [known, anonymous].filter((o) => o.anonymous || !/At /.test(what)).map((o) => [`${o.anonymous ? 'anonymous' : 'known'}: ${what}`, o, edit] as const)))(
    'a pending request (%s) is refused at its callback',
    async (_what, owner, edit) => {
      const requestToken = randomBytes(12).toString('hex')
      expect(await repo.savePending(requestToken, pending(owner), TTL)).toBe(true)
      await edited(pendingKey(requestToken), edit)
      expect(await repo.takePending(requestToken)).toBeUndefined()
    },
  )

  it.each(Object.entries(EDITS['link'] ?? {}).flatMap(([what, edit]) => [known, anonymous].filter((o) => o.anonymous || /origin/.test(what)).map((o) => [`${o.anonymous ? 'anonymous' : 'known'}: ${what}`, o, edit] as const)))(
    'a link (%s) is refused when opened and when taken',
    async (_what, owner, edit) => {
      const [peeked, taken] = [await repo.createLink(owner, TTL, undefined, 'https://gw.example'), await repo.createLink(owner, TTL, undefined, 'https://gw.example')]
      await edited(linkKey(peeked), edit)
      await edited(linkKey(taken), edit)
      expect(await repo.peekLink(peeked)).toBeUndefined()
      expect(await repo.takeLink(taken)).toBeUndefined()
    },
  )

  it('untouched, each record opens', async () => {
    const owner = Object.assign({}, anonymous, { user: `anon-${randomBytes(6).toString('hex')}` })
    await repo.saveToken(owner, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    const requestToken = randomBytes(12).toString('hex')
    await repo.savePending(requestToken, pending(owner), TTL)
    const link = await repo.createLink(owner, TTL, undefined, 'https://gw.example')
    expect(await repo.findToken(owner)).toMatchObject({ token: 't' })
    expect(await repo.peekLink(link)).toMatchObject({ origin: 'https://gw.example' })
    expect(await repo.takeLink(link)).toMatchObject({ origin: 'https://gw.example' })
    expect(await repo.takePending(requestToken)).toMatchObject({ secret: 's3cret', browser: { digest: 'A'.repeat(43) } })
    expect(await repo.mergeAnonymous(owner.space, owner.user, `known-${owner.user}`, new Set(['partner']))).toBe(1)
  })

  it.each([['anonymous', anonymous], ['known', known]] as const)("without the binding (a release before c5c6d98f wrote it, or it was deleted in the store), each record is refused (%s user)", async (_who, base) => {
    const owner = Object.assign({}, base, { user: `${base.user}-${randomBytes(6).toString('hex')}` })
    const requestToken = randomBytes(12).toString('hex')
    await repo.savePending(requestToken, pending(owner), TTL)
    const [peeked, taken] = [await repo.createLink(owner, TTL, undefined, 'https://gw.example'), await repo.createLink(owner, TTL, undefined, 'https://gw.example')]
    const unbind: Edit = (r) => void delete r['clearBinding']
    for (const key of [pendingKey(requestToken), linkKey(peeked), linkKey(taken)]) await edited(key, unbind)
    // The records themselves are intact: the rollout's first release (the switch on) read them.
    const raw = async (key: string): Promise<Record<string, unknown>> => JSON.parse((await writer.get(key)) as string) as Record<string, unknown>
    expect(clearFieldsBound(await raw(pendingKey(requestToken)), PENDING_CLEAR_FIELDS, true)).toBe(true)
    expect(clearFieldsBound(await raw(linkKey(peeked)), LINK_CLEAR_FIELDS, true)).toBe(true)
    expect(await repo.takePending(requestToken)).toBeUndefined()
    expect(await repo.peekLink(peeked)).toBeUndefined()
    expect(await repo.takeLink(taken)).toBeUndefined()
    expect(UNBOUND_CLEAR_ACCEPTED).toBe(false)
    if (!owner.anonymous) return
    // An anonymous user's token: no token, and identityToMerge moves nothing (and removes it).
    await repo.saveToken(owner, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    await edited(tokenKey(owner), unbind)
    expect(clearFieldsBound(await raw(tokenKey(owner)), TOKEN_CLEAR_FIELDS, true)).toBe(true)
    expect(await repo.findToken(owner)).toBeUndefined()
    await repo.saveToken(owner, { token: 't2', tokenSecret: 'ts', obtainedAt: Date.now() })
    await edited(tokenKey(owner), unbind)
    expect(await repo.mergeAnonymous(owner.space, owner.user, `known-${owner.user}`, new Set(['partner']))).toBe(0)
    expect(await repo.findToken(Object.assign({}, known, { user: `known-${owner.user}` }))).toBeUndefined()
    expect(await writer.get(tokenKey(owner))).toBeUndefined()
  })

  it('a binding left under a seal key since removed reads as none: refused; store reseal drops it, and seals again one under a key still held', async () => {
    // Ids of their own: the walks leave the other tests' records (under another key) unread.
    const [r1, r2] = [{ id: 'r1', key: randomBytes(32) }, { id: 'r2', key: randomBytes(32) }]
    const [r1Only, rotated, r2Only] = [createSealer([r1], 'r1'), createSealer([r1, r2], 'r2'), createSealer([r2], 'r2')]
    const anonymousNo = (n: number): TokenOwner => Object.assign({}, anonymous, { user: `anon-${n}-${randomBytes(6).toString('hex')}` })
    const [left, kept] = [anonymousNo(1), anonymousNo(2)]
    const sealedUnder = async (key: string, field: string): Promise<string | undefined> => {
      const value = (JSON.parse((await writer.get(key)) as string) as Record<string, string | undefined>)[field]
      return value === undefined ? undefined : r2Only.keyIdOf(value)
    }
    const tokensWalk = (sealer: typeof rotated): Promise<unknown> => resealRecords(store, sealedDanceRecords(sealer).slice(0, 1), false)
    // `kept`: this release's store reseal ends the rotation while r1 is still configured.
    await createTokenRepo({ store, sealer: r1Only, anonymousTtlMs: ANON_TTL }).saveToken(kept, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    await tokensWalk(rotated)
    expect(await sealedUnder(tokenKey(kept), 'clearBinding')).toBe('r2')
    // `left`: as a release before c5c6d98f's store reseal leaves it (its token under r2, its binding under r1); then r1 is removed.
    await createTokenRepo({ store, sealer: r1Only, anonymousTtlMs: ANON_TTL }).saveToken(left, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    const aad = (field: string): string => JSON.stringify([tokenKey(left), field])
    const stored = JSON.parse((await writer.get(tokenKey(left))) as string) as Record<string, string>
    for (const field of ['token', 'tokenSecret']) stored[field] = rotated.seal(r1Only.open(stored[field] as string, aad(field)), aad(field))
    await writer.put(tokenKey(left), JSON.stringify(stored), HOUR)
    expect(await sealedUnder(tokenKey(left), 'clearBinding')).toBe('r1')
    // This release's store reseal without r1: the binding that no longer opens is dropped, nothing is left under r1.
    await tokensWalk(r2Only)
    expect(await sealedUnder(tokenKey(left), 'clearBinding')).toBeUndefined()
    expect(await sealedUnder(tokenKey(left), 'token')).toBe('r2')
    const after = createTokenRepo({ store, sealer: r2Only, anonymousTtlMs: ANON_TTL })
    expect(await after.findToken(kept)).toMatchObject({ token: 't' })
    expect(await after.findToken(left)).toBeUndefined()
  })

  it("a token an earlier release moved (its binding copied, unopened, under the former key) is no token, and moves nowhere", async () => {
    const former = Object.assign({}, anonymous, { user: `anon-${randomBytes(6).toString('hex')}` })
    const owner = Object.assign({}, former, { user: `${former.user}-moved` })
    await repo.saveToken(former, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    // As an earlier release's move writes it: the fields it knows sealed again under the new key, the rest as it was.
    const stored = JSON.parse((await writer.get(tokenKey(former))) as string) as Record<string, string>
    const aad = (key: string, field: string): string => JSON.stringify([key, field])
    for (const field of ['token', 'tokenSecret']) stored[field] = sealer.seal(sealer.open(stored[field] as string, aad(tokenKey(former), field)), aad(tokenKey(owner), field))
    await writer.put(tokenKey(owner), JSON.stringify(stored), HOUR)
    expect(await repo.findToken(owner)).toBeUndefined()
    await writer.put(tokenKey(owner), JSON.stringify(stored), HOUR)
    expect(await repo.mergeAnonymous(owner.space, owner.user, `known-${owner.user}`, new Set(['partner']))).toBe(0)
    expect(await repo.findToken(Object.assign({}, known, { user: `known-${owner.user}` }))).toBeUndefined()
  })
})
