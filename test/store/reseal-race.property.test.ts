/**
 * A re-seal never undoes what another worker or replica wrote meanwhile (seeded properties, on a
 * real SQLite file shared by two connections and on a real Redis): users' token records sealed
 * under k1, each disturbed from a second connection right after the re-seal read it (by a newer
 * token under k2, one written under k1 by a replica still on the old activeKey, a revoke, a
 * one-time take, or nothing). Through `store reseal`'s walk, each key then holds the newer token
 * (under k2) or nothing when it was removed, never the token the walk read; through a read's
 * re-seal (getRecord) the newer write or the removal stands as it was, and an undisturbed record
 * is under k2 with its plaintext unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { createSealer, getRecord, openRecord, openRedisStore, openSqliteStore, putRecord, resealRecords, sealedRecords, type SecretFields, type Store } from '../../src/store/index.js'
import { newSealKey } from '../oauth1-dance/dance-support.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

interface Token {
  token: string
  obtainedAt: number
}
const SECRETS: SecretFields<Token> = ['token']
const keys = [{ id: 'k1', key: Buffer.from(newSealKey(), 'hex') }, { id: 'k2', key: Buffer.from(newSealKey(), 'hex') }]
const onK1 = createSealer(keys, 'k1')
const onK2 = createSealer(keys, 'k2')
const KINDS = [sealedRecords("users' tokens", ['oauth1:token:'], onK2, SECRETS)]

type Disturbance = 'none' | 'newer_k2' | 'newer_k1' | 'delete' | 'take'
const DISTURBANCES: readonly Disturbance[] = ['none', 'newer_k2', 'newer_k1', 'delete', 'take']

const dir = mkdtempSync(join(tmpdir(), 'reseal-race-'))
const prefix = uniqueRedisPrefix()
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await wipeRedisPrefix(prefix)
})

const BACKENDS: readonly { name: string; open: () => Store }[] = [
  { name: 'sqlite', open: () => openSqliteStore({ file: join(dir, 'state.db') }) },
  { name: 'redis', open: () => openRedisStore({ url: REDIS_URL, keyPrefix: prefix }) },
]

/** `walker`, with `disturb(key)` run on the other connection once, right after its first read of each key; its replaceIfUnchanged promises go to `writes`. */
function disturbedAfterRead(walker: Store, disturb: (key: string) => Promise<void>, writes: Promise<unknown>[] = []): Store {
  const done = new Set<string>()
  return new Proxy(walker, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        const result = (v as (...a: unknown[]) => unknown).apply(target, args)
        if (prop === 'replaceIfUnchanged') writes.push(result as Promise<unknown>)
        if (prop !== 'get') return result
        const key = args[0] as string
        return (result as Promise<string | undefined>).then(async (value) => {
          if (!done.has(key)) {
            done.add(key)
            await disturb(key)
          }
          return value
        })
      }
    },
  })
}

/** What the key must hold once the dust settles: the token's plaintext, or nothing. */
function expected(d: Disturbance, i: number): string | undefined {
  return d === 'delete' || d === 'take' ? undefined : d === 'none' ? `old-${i}` : `newer-${i}`
}

describe.each(BACKENDS)('a re-seal racing other writers ($name)', ({ open }) => {
  const walker = open()
  const other = open()
  afterAll(async () => {
    await walker.close()
    await other.close()
  })

  const disturbance = (plan: readonly Disturbance[]) => async (key: string): Promise<void> => {
    const i = Number(key.split(':').at(-1))
    const d = plan[i] as Disturbance
    if (d === 'newer_k2' || d === 'newer_k1') await putRecord(other, d === 'newer_k2' ? onK2 : onK1, key, { token: `newer-${i}`, obtainedAt: 2 }, SECRETS)
    else if (d === 'delete') await other.delete(key)
    else if (d === 'take') await other.take(key)
  }

  let round = 0
  const seed = async (plan: readonly Disturbance[]): Promise<string[]> => {
    const base = `oauth1:token:r${round++}:`
    for (const k of await walker.keys('oauth1:token:')) await walker.delete(k)
    const written = plan.map((_, i) => `${base}${i}`)
    for (const [i, key] of written.entries()) await putRecord(walker, onK1, key, { token: `old-${i}`, obtainedAt: 1 }, SECRETS)
    return written
  }

  it('store reseal: each key ends with the newer token under k2, or nothing; never the token it read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...DISTURBANCES), { minLength: 1, maxLength: 6 }), async (plan) => {
        const written = await seed(plan)
        const [count] = await resealRecords(disturbedAfterRead(walker, disturbance(plan)), KINDS, false)
        for (const [i, key] of written.entries()) {
          const raw = await walker.get(key)
          expect(raw === undefined ? undefined : openRecord<Token>(onK2, key, raw, SECRETS).token).toBe(expected(plan[i] as Disturbance, i))
          if (raw !== undefined) expect(onK2.keyIdOf(JSON.parse(raw).token as string)).toBe('k2')
        }
        expect(count?.stale).toEqual({})
        expect(count?.unreadable).toEqual({})
      }),
      { seed: 0x7e5ea1, numRuns: 20 },
    )
  }, 120_000)

  it("a read's re-seal: a write or removal after the read stands; an undisturbed record is under k2, its token unchanged", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...DISTURBANCES), { minLength: 1, maxLength: 6 }), async (plan) => {
        const written = await seed(plan)
        const writes: Promise<unknown>[] = []
        const reader = disturbedAfterRead(walker, disturbance(plan), writes)
        for (const [i, key] of written.entries()) expect((await getRecord<Token>(reader, onK2, key, SECRETS))?.token).toBe(`old-${i}`)
        await Promise.allSettled(writes)
        for (const [i, key] of written.entries()) {
          const d = plan[i] as Disturbance
          const raw = await walker.get(key)
          expect(raw === undefined ? undefined : openRecord<Token>(onK2, key, raw, SECRETS).token).toBe(expected(d, i))
          // Under k2 once re-sealed (undisturbed) or as its newer writer sealed it.
          if (raw !== undefined) expect(onK2.keyIdOf(JSON.parse(raw).token as string)).toBe(d === 'newer_k1' ? 'k1' : 'k2')
        }
      }),
      { seed: 0x5ea1ed, numRuns: 20 },
    )
  }, 120_000)
})
