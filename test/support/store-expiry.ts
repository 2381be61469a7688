/** Read beside the gateway's store: when a key expires (the SQLite file's row, or Redis's PTTL), and which keys a SQLite file holds. */
import Database from 'better-sqlite3'
import { Redis } from 'ioredis'

/** Reads store keys' expiries (ms since the epoch; Redis's from PTTL, so within a few ms), null for never, undefined when absent or expired. */
export interface ExpiryReader {
  expiry(key: string): Promise<number | null | undefined>
  close(): void
}

/** The reader for a SQLite store file, or a Redis URL and key prefix. */
export function expiryReader(location: { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string; keyPrefix: string }): ExpiryReader {
  if (location.kind === 'redis') {
    const client = new Redis(location.url)
    return {
      async expiry(key) {
        const ms = await client.pttl(`${location.keyPrefix}${key}`)
        return ms === -2 ? undefined : ms === -1 ? null : Date.now() + ms
      },
      close: () => client.disconnect(),
    }
  }
  let db: Database.Database | undefined
  return {
    async expiry(key) {
      db ??= new Database(location.file, { readonly: true })
      const row = db.prepare('SELECT expires_at FROM store_entries WHERE key = ?').get(key) as { expires_at: number | null } | undefined
      // An expired row stays in the file until the purge: it is gone for every read.
      return row === undefined || (row.expires_at !== null && row.expires_at <= Date.now()) ? undefined : row.expires_at
    },
    close: () => db?.close(),
  }
}

/** The keys of the SQLite store `file` that match any of `patterns` (SQL LIKE), read beside the gateway. */
export function sqliteKeysLike(file: string, ...patterns: string[]): string[] {
  const db = new Database(file, { readonly: true })
  try {
    const where = patterns.map(() => 'key LIKE ?').join(' OR ')
    return (db.prepare(`SELECT key FROM store_entries WHERE ${where}`).all(...patterns) as { key: string }[]).map((r) => r.key)
  } finally {
    db.close()
  }
}
