/** When a key of the gateway's store expires, read beside the store: the SQLite file's row, or Redis's PTTL. */
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
