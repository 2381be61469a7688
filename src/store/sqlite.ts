import { resolve } from 'node:path'
import { describeSqliteError, openSqlite, type Database } from './sqlite-driver.js'
import { openDatabase } from './sqlite-open.js'
import { GatewayError } from '../errors.js'
import { UNREACHABLE, type BoundedIncrement, type Store, type WeightedCounter } from './store.js'
import { checkBound, countOf, weighsUnder } from './counter-bound.js'
import { SQL } from './sqlite-statements.js'
import { expiryOf, normalizeStep } from './ttl.js'

/** Options of the embedded SQLite store. */
export interface SqliteStoreOptions {
  /** Database file; its directory is created on first start. Must be a local disk (WAL needs shared memory). */
  file: string
  /** How often expired rows are deleted, ms; 0 disables the timer (reads still ignore them). */
  purgeIntervalMs?: number
  /** How long a writer waits for another process's lock before failing, ms. */
  busyTimeoutMs?: number
}

const PURGE_BATCH = 500

interface TakenRow {
  value: string
  expires_at: number | null
}
type Params = Record<string, string | number | null>
type Statements = { [K in keyof typeof SQL]: Database.Statement<[Params]> }

/** The default store: one local file, durable once `put` resolves (WAL + synchronous=FULL). */
export class SqliteStore implements Store {
  readonly #file: string
  readonly #db: Database.Database
  readonly #sql: Statements
  readonly #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: SqliteStoreOptions) {
    this.#file = resolve(options.file)
    this.#db = openDatabase(this.#file, options.busyTimeoutMs ?? 5000)
    this.#sql = prepareAll(this.#db, this.#file)
    try {
      this.#purge()
    } catch {
      // Another process may hold the write lock at startup; the timer retries, reads skip expired rows.
    }
    const every = options.purgeIntervalMs ?? 60_000
    if (every > 0) {
      // A failed background purge is harmless (reads skip expired rows); the next one retries.
      this.#timer = setInterval(() => void this.purgeExpired().catch(() => undefined), every)
      this.#timer.unref()
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.#run('get', () => this.#sql.get.get({ key, now: Date.now() }) as string | undefined)
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    const expiresAt = expiryOf(ttlMs, Date.now())
    this.#run('put', () => this.#sql.put.run({ key, value, expiresAt }))
  }

  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const now = Date.now()
    const expiresAt = expiryOf(ttlMs, now)
    return this.#run('putIfAbsent', () => this.#sql.putIfAbsent.run({ key, value, expiresAt, now }).changes === 1)
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const now = Date.now()
    const step = normalizeStep(by)
    const expiresAt = expiryOf(ttlMs, now)
    return this.#run('increment', () => this.#sql.increment.get({ key, by: step, expiresAt, now }) as number)
  }

  /** One IMMEDIATE transaction: the write lock taken before the reads, so no process moves a counter between them and the add. A bound <= 0 only reads: deferred (no write lock, no busy_timeout wait). */
  async incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement> {
    checkBound(counters, bound)
    const now = Date.now()
    const expiresAt = expiryOf(ttlMs, now)
    const take = (): BoundedIncrement => {
      const counts = counters.map(({ key }) => countOf(this.#sql.get.get({ key, now }) as string | undefined))
      const added = weighsUnder(counts, counters, bound)
      if (added) this.#sql.increment.get({ key: (counters[0] as WeightedCounter).key, by: 1, expiresAt, now })
      return { added, counts }
    }
    return this.#run('incrementIfUnder', () => (bound > 0 ? this.#db.transaction(take).immediate() : this.#db.transaction(take).deferred()))
  }

  /** A failed statement or transaction rolled back (SQLITE_BUSY after busy_timeout included): nothing of it landed. */
  readonly mayHaveLanded: Store['mayHaveLanded'] = () => false

  async decrementIfPositive(key: string): Promise<number | undefined> {
    return this.#run('decrement', () => this.#sql.decrementIfPositive.get({ key, now: Date.now() }) as number | undefined)
  }

  async replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean> {
    const now = Date.now()
    const expiresAt = expiryOf(ttlMs, now)
    const write = (): number => (replacement === undefined ? this.#sql.deleteIfUnchanged.run({ key, expected, now }) : this.#sql.replaceIfUnchanged.run({ key, expected, value: replacement, expiresAt, now })).changes
    return this.#run('replaceIfUnchanged', write) === 1
  }

  async delete(key: string): Promise<boolean> {
    return this.#take('delete', key) !== undefined
  }

  async take(key: string): Promise<string | undefined> {
    return this.#take('take', key)
  }

  async keys(prefix: string): Promise<string[]> {
    return this.#run('keys', () => {
      const out: string[] = []
      // Keys sharing a prefix are contiguous in BINARY (UTF-8 byte) order: stop at the first miss.
      for (const key of this.#sql.keys.iterate({ prefix, now: Date.now() }) as Iterable<string>) {
        if (!key.startsWith(prefix)) break
        out.push(key)
      }
      return out
    })
  }

  /**
   * Opens the file afresh, read-only: the long-lived handle keeps working on a file that was
   * removed or replaced (its writes then go to an unlinked inode, lost at restart, and other
   * processes cannot open it), so only a new open says whether the store is really there.
   */
  async ping(): Promise<void> {
    this.#run('ping', () => {
      const probe = openSqlite(this.#file, { readonly: true, fileMustExist: true })
      try {
        probe.pragma('schema_version')
      } finally {
        probe.close()
      }
    })
  }

  /** Deletes expired rows now; returns how many. */
  async purgeExpired(): Promise<number> {
    return this.#run('purge', () => this.#purge())
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#db.close()
  }

  #take(op: string, key: string): string | undefined {
    const now = Date.now()
    return this.#run(op, () => {
      const row = this.#sql.take.get({ key }) as TakenRow | undefined
      return row !== undefined && (row.expires_at === null || row.expires_at > now) ? row.value : undefined
    })
  }

  #purge(): number {
    let total = 0
    // Small batches so a large backlog never holds the write lock against other processes for long.
    for (;;) {
      const n = this.#sql.purge.run({ now: Date.now(), limit: PURGE_BATCH }).changes
      total += n
      if (n < PURGE_BATCH) return total
    }
  }

  #run<T>(op: string, fn: () => T): T {
    if (this.#closed) throw new GatewayError('store_unavailable', `sqlite store "${this.#file}": ${op} after close`, { callerMessage: UNREACHABLE })
    try {
      return fn()
    } catch (e) {
      const why = describeSqliteError(e)
      throw new GatewayError('store_unavailable', `sqlite store "${this.#file}": ${op} failed: ${why}`, { cause: e, callerMessage: UNREACHABLE })
    }
  }
}

function prepareAll(db: Database.Database, file: string): Statements {
  try {
    const sql = Object.fromEntries(Object.entries(SQL).map(([k, text]) => [k, db.prepare<Params>(text)])) as Statements
    sql.get.pluck()
    sql.keys.pluck()
    sql.increment.pluck()
    sql.decrementIfPositive.pluck()
    return sql
  } catch (e) {
    db.close()
    const why = describeSqliteError(e)
    // E.g. a file created by something else with an incompatible `store_entries` table.
    throw new Error(`sqlite store "${file}": cannot prepare statements: ${why}`, { cause: e })
  }
}

/** Opens (creating if needed) the SQLite store at `options.file`. */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options)
}
