/**
 * A take-and-check that failed without landing is not given back. On SQLite a take that meets
 * another process's write lock fails with SQLITE_BUSY once busy_timeout has passed, its IMMEDIATE
 * transaction rolled back: nothing landed (Store.mayHaveLanded: never on SQLite). Before, a right
 * secret admitted so gave one back all the same, taking one of the address's wrong attempts off
 * the shared counter: with max 3, two wrong attempts then let three more through on another
 * process (5 wrong in the minute). Real SQLite file, real lock holder (another connection in
 * BEGIN IMMEDIATE), two stores on the file as two processes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/failure-throttle.js'
import { GatewayError } from '../../src/errors.js'
import { openSqliteStore, type SqliteStore } from '../../src/store/index.js'
import { openSqlite } from '../../src/store/sqlite-driver.js'

const ADDRESS = '10.9.9.9'
const COUNTER = 'throttle:token-exchange:v4_10.9.9.9:30'

describe('failure throttle on SQLite: a take refused by another process\'s write lock', () => {
  let dir: string
  let file: string
  let stores: SqliteStore[]
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'throttle-failed-take-'))
    file = join(dir, 'gateway.db')
    // Two workers or replicas on one file; a short busy_timeout (its length decides nothing here).
    stores = [0, 1].map(() => openSqliteStore({ file, busyTimeoutMs: 50, purgeIntervalMs: 0 }))
  })
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('a right secret admitted on this process\'s count gives nothing back: the wrong attempts stay counted and another process admits only up to max', async () => {
    const [a, b] = stores as [SqliteStore, SqliteStore]
    const make = (store: SqliteStore) => createFailureThrottle({ name: 'token-exchange', max: 3, maxAddresses: 10, store: () => store, now: () => 30 * WINDOW + 1_000 })
    const [ta, tb] = [make(a), make(b)]
    expect((await ta.admit(ADDRESS)).admitted).toBe(true)
    expect((await ta.admit(ADDRESS)).admitted).toBe(true)
    expect(await a.get(COUNTER)).toBe('2')
    const holder = openSqlite(file)
    try {
      holder.exec('BEGIN IMMEDIATE')
      await expect(a.incrementIfUnder([{ key: COUNTER, weight: 1 }], 100, 60_000)).rejects.toThrow(GatewayError)
      const right = await ta.admit(ADDRESS)
      holder.exec('COMMIT')
      expect(right.admitted).toBe(true)
      expect(await a.get(COUNTER)).toBe('2')
      if (right.admitted) await right.release()
    } finally {
      holder.close()
    }
    expect(await a.get(COUNTER)).toBe('2')
    const turns: boolean[] = []
    for (let i = 0; i < 3; i++) turns.push((await tb.admit(ADDRESS)).admitted)
    expect(turns).toEqual([true, false, false])
  })

  it('the store says a take that failed busy never landed', async () => {
    const [a] = stores as [SqliteStore]
    const holder = openSqlite(file)
    try {
      holder.exec('BEGIN IMMEDIATE')
      const failure = await a.incrementIfUnder([{ key: COUNTER, weight: 1 }], 100, 60_000).then(() => undefined, (e: unknown) => e)
      expect(failure).toBeInstanceOf(GatewayError)
      expect(String(failure)).toMatch(/busy|locked/i)
      expect(a.mayHaveLanded(failure)).toBe(false)
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
    expect(await a.get(COUNTER)).toBeUndefined()
  })
})
