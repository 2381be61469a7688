import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/store/index.js'
import { ensureStoreBuilt, spawnFixture } from '../support/store-dist.js'
import { eventually } from '../support/eventually.js'

/** Same as fixtures/sqlite-writer.mjs. */
function valueOf(i: number): string {
  return `value-${i}-${'#'.repeat(i % 257)}`
}

function rawCount(file: string): number {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare('SELECT count(*) AS n FROM store_entries').get() as { n: number }).n
  } finally {
    db.close()
  }
}

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'store-sqlite-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('SQLite store: file and schema', () => {
  it('creates the file (and its -wal and -shm) and missing directories readable by the gateway\'s user only, whatever the umask', async () => {
    const old = process.umask(0o022)
    try {
      const file = join(dir, 'state', 'gateway.db')
      const store = openSqliteStore({ file })
      await store.put('bearer:x', 'claims')
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600')
      expect((statSync(join(dir, 'state')).mode & 0o777).toString(8)).toBe('700')
      await store.close()
    } finally {
      process.umask(old)
    }
  })

  it('narrows an existing state file (and its -wal and -shm) to 0600: an upgrade from a version that created them 0644', async () => {
    const file = join(dir, 'old.db')
    const first = openSqliteStore({ file })
    await first.put('bearer:x', 'claims')
    await first.close()
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o644)
      } catch {
        writeFileSync(f, '', { mode: 0o644 })
      }
    }
    const store = openSqliteStore({ file })
    expect(await store.get('bearer:x')).toBe('claims')
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600')
    await store.close()
  })

  it('creates missing parent directories and a WAL-mode file', async () => {
    const file = join(dir, 'a', 'b', 'state.db')
    const store = openSqliteStore({ file })
    await store.put('k', 'v')
    await store.close()
    const db = new Database(file, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.prepare('SELECT key, value, expires_at FROM store_entries').all()).toEqual([
      { key: 'k', value: 'v', expires_at: null },
    ])
    db.close()
  })

  it('fails to open with a message naming the file', () => {
    const blocker = join(dir, 'not-a-dir')
    openSqliteStore({ file: blocker }).close()
    expect(() => openSqliteStore({ file: join(blocker, 'x.db') })).toThrow(/sqlite store ".*not-a-dir\/x\.db": cannot open/)
  })

  it('ignores expired rows on read and purges them (timer and on demand)', async () => {
    const file = join(dir, 'state.db')
    const store = openSqliteStore({ file, purgeIntervalMs: 0 })
    for (let i = 0; i < 1200; i++) await store.put(`e${i}`, 'x', 50)
    await store.put('live', 'y')
    await eventually(async () => (await store.get('e1199')) === undefined, 20_000, 'the last row to expire')
    expect(await store.get('e1')).toBeUndefined()
    expect(rawCount(file)).toBe(1201)
    expect(await store.purgeExpired()).toBe(1200)
    expect(rawCount(file)).toBe(1)
    await store.close()

    const timed = openSqliteStore({ file, purgeIntervalMs: 50 })
    await timed.put('e', 'x', 30)
    // The timer, not a read, removes the row: wait for it (rows only shrink from here).
    await eventually(() => rawCount(file) === 1, 20_000, 'the purge timer to remove the expired row')
    await timed.close()
  })
})

describe('SQLite store: several processes on one file', () => {
  beforeAll(ensureStoreBuilt, 240_000)

  async function race(file: string, mode: 'put' | 'take', count: number): Promise<unknown[][]> {
    const kids = ['A', 'B'].map((name) => spawnFixture('sqlite-racer.mjs', [file, name, mode, String(count)]))
    await Promise.all(kids.map((k) => k.waitFor((l) => l.includes('ready'))))
    const startAt = Date.now() + 150
    for (const k of kids) k.child.stdin.write(`${startAt}\n`)
    await Promise.all(kids.map((k) => k.waitFor((l) => l.length >= 2, 60_000)))
    await Promise.all(kids.map((k) => k.exited))
    return kids.map((k) => JSON.parse(k.lines[1] ?? 'null') as unknown[])
  }

  it('putIfAbsent from two processes: each key won exactly once, also over expired rows', async () => {
    const file = join(dir, 'race.db')
    const count = 300
    const store = openSqliteStore({ file })
    // Odd keys hold an expired value: replacing it must be just as exclusive.
    for (let i = 1; i < count; i += 2) await store.put(`race:${i}`, 'stale', 20)
    await eventually(async () => (await store.get(`race:${count - 1}`)) === undefined, 20_000, 'the stale rows to expire')
    const [a, b] = await race(file, 'put', count)
    for (let i = 0; i < count; i++) {
      expect([a?.[i], b?.[i]].filter((won) => won === true)).toHaveLength(1)
      expect(await store.get(`race:${i}`)).toBe(a?.[i] === true ? 'A' : 'B')
    }
    await store.close()
  })

  it('take from two processes: each value taken exactly once', async () => {
    const file = join(dir, 'take.db')
    const count = 300
    const store = openSqliteStore({ file })
    for (let i = 0; i < count; i++) await store.put(`race:${i}`, `v${i}`)
    const [a, b] = await race(file, 'take', count)
    for (let i = 0; i < count; i++) {
      expect([a?.[i], b?.[i]].filter((v) => v !== null)).toEqual([`v${i}`])
    }
    expect(await store.keys('race:')).toEqual([])
    await store.close()
  })

  it('four processes creating the same new file at once all start and write', async () => {
    const file = join(dir, 'fresh', 'new.db')
    const kids = Array.from({ length: 4 }, () => spawnFixture('sqlite-writer.mjs', [file, '50']))
    await Promise.all(kids.map((k) => k.waitFor((l) => l.includes('done'), 60_000)))
    for (const k of kids) k.child.kill('SIGKILL')
    await Promise.all(kids.map((k) => k.exited))
    const store = openSqliteStore({ file })
    expect(await store.keys('k')).toHaveLength(50)
    expect(await store.get('k49')).toBe(valueOf(49))
    await store.close()
  })

  it('processes opening one new file at the same instant never fail with "database is locked" (workers starting)', async () => {
    // Six rounds of four children released at one instant, each on a new file: the window
    // between one creating the schema and another upgrading its read to a write is hit often.
    for (let round = 0; round < 6; round++) {
      const file = join(dir, `start-${round}`, 'new.db')
      const startAt = String(Date.now() + 400)
      const kids = Array.from({ length: 4 }, () => spawnFixture('sqlite-opener.mjs', [file, startAt]))
      await Promise.all(kids.map((k) => k.exited))
      expect(kids.map((k) => k.lines[0])).toEqual(['ok', 'ok', 'ok', 'ok'])
      const store = openSqliteStore({ file })
      expect(await store.keys('opened:')).toHaveLength(4)
      await store.close()
    }
  }, 120_000)

  async function killAndCheck(file: string, countArg: string, killAfter: number): Promise<number> {
    const kid = spawnFixture('sqlite-writer.mjs', [file, countArg])
    // Each put is an fsync (synchronous=FULL): 400 take under a second on a quiet machine, but full
    // suite runs kept them past a minute once and past 150 s once (the disk's fsyncs stalled). A
    // writer that has not got there is killed, never left writing for the rest of the run (it was,
    // at a quarter of a core, after that failure).
    try {
      await kid.waitFor((l) => l.length >= killAfter, 300_000)
    } catch (e) {
      kid.child.kill('SIGKILL')
      await kid.exited
      throw new Error(`${(e as Error).message} (${kid.lines.length} of ${killAfter} puts acknowledged)`)
    }
    kid.child.kill('SIGKILL')
    const { signal } = await kid.exited
    expect(signal).toBe('SIGKILL')
    const acked = kid.lines.filter((l) => /^\d+$/.test(l)).map(Number)
    expect(acked.length).toBeGreaterThanOrEqual(Math.min(killAfter, Number(countArg) || killAfter))

    const raw = new Database(file)
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok')
    raw.close()
    const store = openSqliteStore({ file })
    for (const i of acked) expect(await store.get(`k${i}`)).toBe(valueOf(i))
    await store.close()
    return acked.length
  }

  it('kill -9 while writing: every acknowledged put is present, the file is intact', async () => {
    for (const killAfter of [1, 57, 400]) {
      const file = join(dir, `kill-${killAfter}.db`)
      const acked = await killAndCheck(file, 'forever', killAfter)
      expect(acked).toBeGreaterThanOrEqual(killAfter)
    }
  }, 960_000)

  it('kill -9 after the last write (database still open): everything is present', async () => {
    const file = join(dir, 'kill-idle.db')
    // Waiting for "done" too: count+1 lines.
    expect(await killAndCheck(file, '300', 301)).toBe(300)
  }, 360_000)
})
