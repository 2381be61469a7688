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

/** `new Database(...args)`, loading better-sqlite3 on the first call. */
export function openSqlite(...args: ConstructorParameters<typeof Database>): Database.Database {
  return new (load('better-sqlite3') as typeof Database)(...args)
}

/**
 * An error of the driver as the reason in a one-line message. Node's text for an addon built
 * for another Node spans five lines (the path, then the versions and what to do); the command
 * line prints the first line of a start failure only.
 */
export function describeSqliteError(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ').trim()
}
