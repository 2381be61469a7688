import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  MemoryStore,
  SealError,
  createSealer,
  getRecord,
  openRedisStore,
  openSqliteStore,
  putRecord,
  putRecordIfAbsent,
  recordSealKeyIds,
  resealRecord,
  takeRecord,
  type SecretFields,
} from '../../src/store/index.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

/** The request-token shape the OAuth dance stores. */
interface RequestToken {
  token: string
  tokenSecret: string
  profile: string
  tenant: string
  user: string
  additionalFields?: Record<string, string>
}
const SECRETS: SecretFields<RequestToken> = ['tokenSecret', 'additionalFields']
const SECRET = `S3CR3T-${randomBytes(8).toString('hex')}`
const FIELD_SECRET = `F1ELD-${randomBytes(8).toString('hex')}`
const record: RequestToken = {
  token: 'rt-public-1',
  tokenSecret: SECRET,
  profile: 'jira',
  tenant: 't1',
  user: 'alice',
  additionalFields: { pin: FIELD_SECRET },
}
const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')

describe('sealed records', () => {
  it('round-trips with secrets sealed and public fields readable', async () => {
    const store = new MemoryStore()
    await putRecord(store, sealer, 'rt:rt-public-1', record, SECRETS, 60_000)
    const stored = JSON.parse((await store.get('rt:rt-public-1')) ?? '{}') as Record<string, unknown>
    expect(stored.token).toBe('rt-public-1')
    expect(stored.tokenSecret).toMatch(/^v1\.k1\./)
    expect(JSON.stringify(stored)).not.toContain(SECRET)
    expect(JSON.stringify(stored)).not.toContain(FIELD_SECRET)
    expect(await getRecord<RequestToken>(store, sealer, 'rt:rt-public-1', SECRETS)).toEqual(record)
    expect(await getRecord<RequestToken>(store, sealer, 'rt:none', SECRETS)).toBeUndefined()
  })

  it('takeRecord is one-shot; putRecordIfAbsent writes once', async () => {
    const store = new MemoryStore()
    expect(await putRecordIfAbsent(store, sealer, 'rt:1', record, SECRETS)).toBe(true)
    expect(await putRecordIfAbsent(store, sealer, 'rt:1', { ...record, user: 'bob' }, SECRETS)).toBe(false)
    expect(await takeRecord<RequestToken>(store, sealer, 'rt:1', SECRETS)).toEqual(record)
    expect(await takeRecord<RequestToken>(store, sealer, 'rt:1', SECRETS)).toBeUndefined()
  })

  it('a record copied to another key, or a field swapped between records, fails to open', async () => {
    const store = new MemoryStore()
    await putRecord(store, sealer, 'at:alice', record, SECRETS)
    await store.put('at:mallory', (await store.get('at:alice')) ?? '')
    await expect(getRecord<RequestToken>(store, sealer, 'at:mallory', SECRETS)).rejects.toThrow(SealError)

    await putRecord(store, sealer, 'at:bob', { ...record, tokenSecret: 'bobs' }, SECRETS)
    const alice = JSON.parse((await store.get('at:alice')) ?? '{}') as Record<string, unknown>
    const bob = JSON.parse((await store.get('at:bob')) ?? '{}') as Record<string, unknown>
    await store.put('at:bob', JSON.stringify({ ...bob, tokenSecret: alice.tokenSecret }))
    await expect(getRecord<RequestToken>(store, sealer, 'at:bob', SECRETS)).rejects.toThrow(/failed authentication/)
  })

  it('a plaintext value where a sealed one belongs is refused', async () => {
    const store = new MemoryStore()
    await store.put('rt:plain', JSON.stringify(record))
    await expect(getRecord<RequestToken>(store, sealer, 'rt:plain', SECRETS)).rejects.toThrow(SealError)
    await store.put('rt:obj', JSON.stringify({ ...record, tokenSecret: { not: 'sealed' } }))
    await expect(getRecord<RequestToken>(store, sealer, 'rt:obj', SECRETS)).rejects.toThrow(/is not sealed/)
  })

  it('an optional seal that does not open here (copied from another key, plaintext, under a removed key) is left out; the rest opens', async () => {
    interface Bound extends RequestToken {
      binding?: string
    }
    const WITH_BINDING: SecretFields<Bound> = [...SECRETS, { optional: 'binding' }]
    const store = new MemoryStore()
    await putRecord<Bound>(store, sealer, 'b:alice', { ...record, binding: 'alice-bound' }, WITH_BINDING)
    const alice = JSON.parse((await store.get('b:alice')) ?? '{}') as Record<string, unknown>
    expect(alice['binding']).toMatch(/^v1\.k1\./)
    expect(await getRecord<Bound>(store, sealer, 'b:alice', WITH_BINDING)).toEqual({ ...record, binding: 'alice-bound' })
    // As an earlier release, which does not know the field, moves a record: the known fields sealed again, the binding copied as it was.
    const moved = { ...alice, tokenSecret: sealer.seal(JSON.stringify(SECRET), JSON.stringify(['b:moved', 'tokenSecret'])), additionalFields: sealer.seal(JSON.stringify(record.additionalFields), JSON.stringify(['b:moved', 'additionalFields'])) }
    await store.put('b:moved', JSON.stringify(moved))
    expect(await getRecord<Bound>(store, sealer, 'b:moved', WITH_BINDING)).toEqual(record)
    await store.put('b:moved', JSON.stringify({ ...moved, binding: 'written in clear' }))
    expect(await takeRecord<Bound>(store, sealer, 'b:moved', WITH_BINDING)).toEqual(record)
    // Under a key since removed (k1 now holds other bytes): a re-seal drops it (its key id no longer listed), the rest sealed again.
    const rotated = createSealer([{ id: 'k2', key: randomBytes(32) }, { id: 'k1', key: randomBytes(32) }], 'k2')
    const withoutOld = { ...alice, tokenSecret: rotated.seal(JSON.stringify(SECRET), JSON.stringify(['b:alice', 'tokenSecret'])), additionalFields: undefined }
    const resealed = resealRecord(rotated, 'b:alice', JSON.stringify(withoutOld), WITH_BINDING)
    expect(resealed).toBeDefined()
    expect(JSON.parse(resealed as string)).not.toHaveProperty('binding')
    expect(recordSealKeyIds(rotated, 'b:alice', resealed as string, WITH_BINDING)).toEqual(['k2'])
  })
})

describe('no plaintext secret at rest', () => {
  const dirs: string[] = []
  const prefixes: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
    for (const p of prefixes.splice(0)) await wipeRedisPrefix(p)
  })

  it('SQLite: neither the raw table nor any byte of the files holds the secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-seal-'))
    dirs.push(dir)
    const file = join(dir, 'state.db')
    const store = openSqliteStore({ file })
    await putRecord(store, sealer, 'rt:rt-public-1', record, SECRETS)
    // Inspect while open too: the row may still live only in the WAL file.
    const scan = (): void => {
      for (const f of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, f))
        expect(bytes.includes(SECRET), f).toBe(false)
        expect(bytes.includes(FIELD_SECRET), f).toBe(false)
      }
    }
    expect(readdirSync(dir).join(' ')).toMatch(/state\.db/)
    scan()
    await store.close()
    scan()
    const raw = new Database(file, { readonly: true })
    const rows = raw.prepare('SELECT value FROM store_entries').all() as { value: string }[]
    raw.close()
    expect(rows).toHaveLength(1)
    expect(rows[0]?.value).toContain('rt-public-1')
    expect(rows[0]?.value).not.toContain(SECRET)
  })

  it('Redis: the raw value holds no secret', async () => {
    const keyPrefix = uniqueRedisPrefix()
    prefixes.push(keyPrefix)
    const store = openRedisStore({ url: REDIS_URL, keyPrefix })
    await putRecord(store, sealer, 'rt:rt-public-1', record, SECRETS)
    await store.close()
    const raw = new Redis(REDIS_URL)
    try {
      const value = await raw.get(`${keyPrefix}rt:rt-public-1`)
      expect(value).toContain('rt-public-1')
      expect(value).not.toContain(SECRET)
      expect(value).not.toContain(FIELD_SECRET)
    } finally {
      raw.disconnect()
    }
  })
})
