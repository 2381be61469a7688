/**
 * better-sqlite3, loaded when the first database opens: a gateway that keeps nothing in a
 * store, or keeps it in Redis, and `check`, never load its 13 modules (as redis-client.ts
 * does for ioredis).
 */
import { createRequire } from 'node:module'
import type Database from 'better-sqlite3'

const load = createRequire(import.meta.url)

/** The driver's types (its namespace: Database.Database, Database.Statement). */
export type { Database }

/**
 * The driver itself cannot load (not installed, or built for another Node): a fault of the
 * installation, not of the config's `store.file`, so a start names no config key for it.
 */
export class SqliteDriverError extends Error {}

/** The codes of a module or native addon that cannot load (the addon loads with the first database). */
const LOAD_FAILURES: ReadonlySet<unknown> = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND', 'ERR_DLOPEN_FAILED'])

/** `new Database(...args)`, loading better-sqlite3 on the first call. */
export function openSqlite(...args: ConstructorParameters<typeof Database>): Database.Database {
  try {
    return new (load('better-sqlite3') as typeof Database)(...args)
  } catch (e) {
    if (LOAD_FAILURES.has((e as { code?: unknown } | null)?.code)) throw new SqliteDriverError(describeSqliteError(e), { cause: e })
    throw e
  }
}

/**
 * An error of the driver as the reason in a one-line message. Node's text for an addon built
 * for another Node spans five lines (the path, then the versions and what to do); the command
 * line prints the first line of a start failure only.
 */
export function describeSqliteError(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ').trim()
}
