/**
 * Opening the SQLite store's file: made on first use (its folder too), switched to WAL with
 * synchronous=FULL, its schema created, retried while another process starting at the same
 * moment holds the lock.
 */
import { createSqliteFile, sqliteFileProblem } from './sqlite-location.js'
import { describeSqliteError, openSqlite, SqliteDriverError, type Database } from './sqlite-driver.js'
import { SCHEMA } from './sqlite-statements.js'

/**
 * Opens (and on first use creates) the file. Processes starting together on a new file can
 * still meet SQLITE_BUSY without SQLite's busy handler being asked (switching to WAL upgrades a
 * read lock to a write lock, and SQLite refuses such an upgrade at once rather than deadlock):
 * the whole open is retried with a short pause until busyTimeoutMs has passed.
 */
export function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  // What `check` reports, refused in the same words before anything is created.
  const refusal = sqliteFileProblem(file)
  if (refusal !== undefined) throw new Error(refusal)
  const deadline = Date.now() + Math.max(0, busyTimeoutMs)
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return openOnce(file, busyTimeoutMs)
    } catch (e) {
      if (!isBusy(e) || Date.now() + pause > deadline) {
        const Failure = e instanceof SqliteDriverError ? SqliteDriverError : Error
        throw new Failure(`sqlite store "${file}": cannot open: ${describeSqliteError(e)}`, { cause: e })
      }
      // Start-up only, and the API is synchronous: block this thread for the pause.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause)
    }
  }
}

const isBusy = (e: unknown): boolean => typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('SQLITE_BUSY')

function openOnce(file: string, busyTimeoutMs: number): Database.Database {
  let db: Database.Database | undefined
  try {
    createSqliteFile(file)
    db = openSqlite(file)
    // busy_timeout first: switching to WAL and creating the table need locks a second
    // process starting at the same moment may hold.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`)
    // WAL is a property of the file: only the first opener needs the exclusive lock to switch.
    const mode: unknown = db.pragma('journal_mode', { simple: true }) === 'wal' ? 'wal' : db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw new Error(`could not switch to WAL (journal_mode is ${String(mode)})`)
    // WAL + FULL: every commit fsyncs the WAL, so an acknowledged put survives a crash.
    db.pragma('synchronous = FULL')
    // IMMEDIATE takes the write lock up front, waiting (busy_timeout) for another starting
    // worker. A plain transaction would read the schema first and then need to upgrade to a
    // writer; if another process created the table in between, SQLite answers SQLITE_BUSY at
    // once, without waiting ("database is locked" — workers racing on a new file).
    const opened = db
    opened.transaction(() => opened.exec(SCHEMA)).immediate()
    return opened
  } catch (e) {
    db?.close()
    throw e
  }
}
