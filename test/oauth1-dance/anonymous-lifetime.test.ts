/**
 * An anonymous user's records live until the earlier of the end they were stored with and their
 * making plus the callers.anonymousTtl in force (README: kept "for anonymousTtl at most"), on a real
 * SQLite file and a real Redis. With anonymousTtl shortened (a repository built under the new value,
 * as a reload or restart builds it): a token obtained longer ago than the new value is not read (and
 * is removed), not merged into a known user by identityToMerge, and the sweep removes it; a younger
 * one is read and its store expiry is brought forward to its new end. A move to the user's id (the
 * Latin-1 migration) keeps the end the token has, where it used to store it for a whole anonymousTtl
 * again. An anonymous dance waiting for its callback and an unused link made longer ago than the new
 * value are used up as expired. Known users' records are never judged so. A seeded property over
 * ages and the two lifetimes: after the sweep no anonymous token is stored past its end.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { createTokenRepo, endAnonymousDanceRecords, tokenKey } from '../../src/dance/index.js'
import type { TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, openRedisStore, openSqliteStore, type Store } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import { expiryReader } from '../support/store-expiry.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const MIN = 60_000
/** How far an expiry read back may be off (Redis's PTTL is read some milliseconds after it was set): far below the minutes that matter here. */
const SLACK_MS = 1000
const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const anon = (user: string): TokenOwner => ({ space: 'bot', profile: 'partner', user, anonymous: true })
const known = (user: string): TokenOwner => ({ space: 'bot', profile: 'partner', user, anonymous: false })
const tokenOf = (user: string, agoMs: number) => ({ token: `tok-${user}`, tokenSecret: `sec-${user}`, obtainedAt: Date.now() - agoMs })

interface Backend {
  readonly name: string
  readonly store: Store
  /** When `key` expires in the store (ms since the epoch; Redis's read back from PTTL, so within a few ms), null for never, undefined when absent or expired. */
  expiry(key: string): Promise<number | null | undefined>
  close(): Promise<void>
}

const dir = mkdtempSync(join(tmpdir(), 'anon-lifetime-'))
function backend(name: 'sqlite' | 'redis'): Backend {
  const location = name === 'sqlite' ? { kind: name, file: join(dir, 'state.db') } : { kind: name, url: REDIS_URL, keyPrefix: uniqueRedisPrefix() }
  const store = location.kind === 'sqlite' ? openSqliteStore(location) : openRedisStore(location)
  const reader = expiryReader(location)
  return {
    name,
    store,
    expiry: (key) => reader.expiry(key),
    async close() {
      reader.close()
      await store.close()
      if (location.kind === 'redis') await wipeRedisPrefix(location.keyPrefix)
    },
  }
}

const backends = [backend('sqlite'), backend('redis')]
afterAll(async () => {
  for (const b of backends) await b.close()
  rmSync(dir, { recursive: true, force: true })
})

describe.each(backends)('anonymous users\' records against the anonymousTtl in force ($name)', (b) => {
  const repo = (anonymousTtlMs: number) => createTokenRepo({ store: b.store, sealer, anonymousTtlMs })
  const present = async (key: string): Promise<boolean> => (await b.store.get(key)) !== undefined

  it('a token older than a shortened anonymousTtl is not read, not merged, and is removed; a younger one is read', async () => {
    const [old, young] = [anon('old-1'), anon('young-1')]
    await repo(60 * MIN).saveToken(old, tokenOf('old-1', 50 * MIN))
    await repo(60 * MIN).saveToken(young, tokenOf('young-1', 5 * MIN))
    expect(await repo(60 * MIN).findToken(old)).toMatchObject({ token: 'tok-old-1' })
    const shortened = repo(30 * MIN)
    expect(await shortened.findToken(old)).toBeUndefined()
    expect(await shortened.findToken(young)).toMatchObject({ token: 'tok-young-1' })
    await eventually(async () => !(await present(tokenKey(old))), 15_000, 'the ended token to be removed by its read')
    await repo(60 * MIN).saveToken(old, tokenOf('old-1', 50 * MIN))
    expect(await shortened.mergeAnonymous('bot', 'old-1', 'kim', new Set(['partner']))).toBe(0)
    expect(await shortened.findToken(known('kim'))).toBeUndefined()
    expect(await present(tokenKey(old))).toBe(false)
    expect(await shortened.mergeAnonymous('bot', 'young-1', 'kim', new Set(['partner']))).toBe(1)
    const merged = await shortened.findToken(known('kim'))
    expect(merged).toMatchObject({ token: 'tok-young-1' })
    expect(merged).not.toHaveProperty('expiresAt')
    expect(await b.expiry(tokenKey(known('kim')))).toBeNull()
  })

  it('the sweep removes what ended and brings the rest forward to its end; known users untouched', async () => {
    const long = repo(60 * MIN)
    const [gone, kept, user] = [anon('gone-2'), anon('kept-2'), known('lee-2')]
    const keptToken = tokenOf('kept-2', 5 * MIN)
    await long.saveToken(gone, tokenOf('gone-2', 50 * MIN))
    await long.saveToken(kept, keptToken)
    await long.saveToken(user, tokenOf('lee-2', 50 * MIN))
    expect(await b.expiry(tokenKey(kept))).toBeGreaterThan(keptToken.obtainedAt + 59 * MIN)
    expect(await endAnonymousDanceRecords(b.store, 30 * MIN)).toBeGreaterThanOrEqual(1)
    expect(await present(tokenKey(gone))).toBe(false)
    expect(await b.expiry(tokenKey(kept))).toBeLessThanOrEqual(keptToken.obtainedAt + 30 * MIN + SLACK_MS)
    expect(await b.expiry(tokenKey(user))).toBeNull()
    // Lengthened again: nothing is extended.
    await endAnonymousDanceRecords(b.store, 120 * MIN)
    expect(await b.expiry(tokenKey(kept))).toBeLessThanOrEqual(keptToken.obtainedAt + 30 * MIN + SLACK_MS)
  })

  it('a move to the user\'s own id keeps the end the token has', async () => {
    const owner = anon('josé-3')
    const former = Buffer.from(owner.user, 'utf8').toString('latin1')
    const t = tokenOf(former, 50 * MIN)
    await repo(60 * MIN).saveToken({ ...owner, user: former }, t)
    expect(await repo(60 * MIN).findOrAdoptToken(owner, former)).toMatchObject({ token: t.token })
    expect(await b.expiry(tokenKey(owner))).toBeLessThanOrEqual(t.obtainedAt + 60 * MIN + SLACK_MS)
    // Under a shortened anonymousTtl, one that ended is not moved.
    const later = anon('josé-4')
    const laterFormer = Buffer.from(later.user, 'utf8').toString('latin1')
    await repo(60 * MIN).saveToken({ ...later, user: laterFormer }, tokenOf(laterFormer, 50 * MIN))
    expect(await repo(30 * MIN).findOrAdoptToken(later, laterFormer)).toBeUndefined()
    expect(await present(tokenKey(later))).toBe(false)
  })

  it('an anonymous dance and link made longer ago than a shortened anonymousTtl are used up as expired; a known user\'s are not', async () => {
    const long = repo(60 * MIN)
    const binding = { cookie: 'mtls_gw_dance_x', digest: 'd' } as never
    const [owner, user] = [anon('ann-5'), known('ken-5')]
    for (const who of [owner, user]) expect(await long.savePending(`rt-${who.user}`, { ...who, secret: 's', browser: binding }, 10 * MIN)).toBe(true)
    const [anonLink, knownLink, peeked] = [await long.createLink(owner, 10 * MIN), await long.createLink(user, 10 * MIN), await long.createLink(owner, 10 * MIN)]
    const made = Date.now()
    // Made just now: under an anonymousTtl of 1 ms they ended as soon as the clock moved on.
    await eventually(() => Date.now() > made + 1, 5_000, 'the clock to move on')
    const shortened = repo(1)
    expect(await shortened.takePending(`rt-${owner.user}`)).toBeUndefined()
    expect(await shortened.takePending(`rt-${user.user}`)).toMatchObject({ user: 'ken-5' })
    expect(await shortened.peekLink(peeked)).toBeUndefined()
    expect(await shortened.takeLink(anonLink)).toBeUndefined()
    expect(await shortened.takeLink(knownLink)).toMatchObject({ user: 'ken-5' })
  })

  it('after the sweep no anonymous token is stored past its end, and a read finds exactly those before it (seeded property)', async () => {
    let round = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 120 }),
        async (agesMin, oldTtlMin, newTtlMin) => {
          const owners = agesMin.map((_, i) => anon(`p${round}-${i}`))
          round++
          const tokens = agesMin.map((age, i) => tokenOf(`p-${i}`, age * MIN + 1))
          for (const [i, o] of owners.entries()) await repo(oldTtlMin * MIN).saveToken(o, tokens[i] as ReturnType<typeof tokenOf>)
          await endAnonymousDanceRecords(b.store, newTtlMin * MIN)
          for (const [i, o] of owners.entries()) {
            const t = tokens[i] as ReturnType<typeof tokenOf>
            const end = t.obtainedAt + Math.min(oldTtlMin, newTtlMin) * MIN
            const stored = await b.expiry(tokenKey(o))
            if (stored !== undefined) expect(stored).toBeLessThanOrEqual(end + SLACK_MS)
            const read = await repo(newTtlMin * MIN).findToken(o)
            if (end > Date.now() + 1000) expect(read?.token).toBe(t.token)
            if (end <= Date.now()) expect(read).toBeUndefined()
          }
        },
      ),
      { seed: 0xa90, numRuns: 15 },
    )
  })
})
