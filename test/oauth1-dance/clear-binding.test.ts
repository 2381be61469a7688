/**
 * The clear fields of a dance's records are sealed with them (clearBinding, clear-binding.ts): an
 * anonymous user's token's `obtainedAt` and `expiresAt`, a pending request's `createdAt`,
 * `expiresAt` and `browser` (its cookie's digest), a link's `createdAt`, `expiresAt` and `origin`.
 * Whoever writes to the store without the seal keys (here a second connection to the same SQLite
 * file or Redis, writing raw JSON) and edits one finds the record refused as expired: no token, the
 * link's or the callback's failure page. An earlier release's record (no binding) still opens in
 * this release (the first of the rollout), and so does a token an earlier release moved to another
 * key, its binding copied along, unopened, under the former key's AAD.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UNBOUND_CLEAR_ACCEPTED } from '../../src/dance/clear-binding.js'
import { linkKey, pendingKey, tokenKey } from '../../src/dance/token-keys.js'
import { createTokenRepo, type OAuth1TokenRepo, type PendingRequest, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, openRedisStore, openSqliteStore, type Store } from '../../src/store/index.js'
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

  it('untouched, each record opens; without the binding (an earlier release wrote it) too, in this release of the rollout', async () => {
    expect(UNBOUND_CLEAR_ACCEPTED).toBe(true)
    const owner = Object.assign({}, anonymous, { user: `anon-${randomBytes(6).toString('hex')}` })
    await repo.saveToken(owner, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    const requestToken = randomBytes(12).toString('hex')
    await repo.savePending(requestToken, pending(owner), TTL)
    const link = await repo.createLink(owner, TTL, undefined, 'https://gw.example')
    expect(await repo.findToken(owner)).toMatchObject({ token: 't' })
    expect(await repo.peekLink(link)).toMatchObject({ origin: 'https://gw.example' })
    for (const key of [tokenKey(owner), pendingKey(requestToken), linkKey(link)]) await edited(key, (r) => void delete r['clearBinding'])
    expect(await repo.findToken(owner)).toMatchObject({ token: 't' })
    expect(await repo.peekLink(link)).toMatchObject({ origin: 'https://gw.example' })
    expect(await repo.takeLink(link)).toMatchObject({ origin: 'https://gw.example' })
    expect(await repo.takePending(requestToken)).toMatchObject({ secret: 's3cret', browser: { digest: 'A'.repeat(43) } })
  })

  it("a token an earlier release moved (its binding copied, unopened, under the former key) opens, and moves on bound again", async () => {
    const former = Object.assign({}, anonymous, { user: `anon-${randomBytes(6).toString('hex')}` })
    const owner = Object.assign({}, former, { user: `${former.user}-moved` })
    await repo.saveToken(former, { token: 't', tokenSecret: 'ts', obtainedAt: Date.now() })
    // As an earlier release's move writes it: the fields it knows sealed again under the new key, the rest as it was.
    const stored = JSON.parse((await writer.get(tokenKey(former))) as string) as Record<string, string>
    const aad = (key: string, field: string): string => JSON.stringify([key, field])
    for (const field of ['token', 'tokenSecret']) stored[field] = sealer.seal(sealer.open(stored[field] as string, aad(tokenKey(former), field)), aad(tokenKey(owner), field))
    await writer.put(tokenKey(owner), JSON.stringify(stored), HOUR)
    expect(await repo.findToken(owner)).toMatchObject({ token: 't' })
    expect(await repo.mergeAnonymous(owner.space, owner.user, `known-${owner.user}`, new Set(['partner']))).toBe(1)
    expect(await repo.findToken(Object.assign({}, known, { user: `known-${owner.user}` }))).toMatchObject({ token: 't' })
  })
})
