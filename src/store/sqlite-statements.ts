/**
 * The SQLite store's schema and statements: one table of keys, values and expiries, each
 * operation one statement, so it is atomic between processes sharing the file.
 */
/** The store's one table and its columns, in order (sqlite-schema.ts recognises a file by them). */
export const STORE_TABLE = 'store_entries'
export const STORE_COLUMNS = ['key', 'value', 'expires_at'] as const
const TABLE = STORE_TABLE
/** `PRAGMA application_id` of a gateway store ("mtls" in ASCII). Files made before it was set read 0. */
export const APPLICATION_ID = 0x6d746c73
/** `PRAGMA user_version` of the store schema this gateway writes; a file made before it was set reads 0. */
export const SCHEMA_VERSION = 1
// WITHOUT ROWID: the key is the clustered index, so `keys(prefix)` is a range scan. The pragmas
// mark the file as the gateway's store (sqlite-schema.ts), in the transaction that creates it.
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${TABLE} (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS ${TABLE}_expires_at ON ${TABLE} (expires_at) WHERE expires_at IS NOT NULL;
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};`

const LIVE = '(expires_at IS NULL OR expires_at > @now)'
const LIVE_ROW = `(${TABLE}.expires_at IS NULL OR ${TABLE}.expires_at > @now)`
const UPSERT = `INSERT INTO ${TABLE} (key, value, expires_at) VALUES (@key, @value, @expiresAt)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`
export const SQL = {
  get: `SELECT value FROM ${TABLE} WHERE key = @key AND ${LIVE}`,
  put: UPSERT,
  // One statement: SQLite takes the write lock before reading the conflicting row, so two
  // processes racing on the same key cannot both see it absent.
  putIfAbsent: `${UPSERT} WHERE ${TABLE}.expires_at IS NOT NULL AND ${TABLE}.expires_at <= @now`,
  // One statement, so the read and the write share SQLite's write lock (no lost update between
  // processes). An expired row counts as absent: the counter restarts at @by with the new TTL;
  // a live one keeps its expiry (the TTL is set only on creation); one below 0 counts from 0.
  increment: `INSERT INTO ${TABLE} (key, value, expires_at) VALUES (@key, CAST(CAST(@by AS INTEGER) AS TEXT), @expiresAt)
    ON CONFLICT (key) DO UPDATE SET
      value = CAST(CASE WHEN ${LIVE_ROW} THEN MAX(CAST(${TABLE}.value AS INTEGER), 0) ELSE 0 END + CAST(@by AS INTEGER) AS TEXT),
      expires_at = CASE WHEN ${LIVE_ROW} THEN ${TABLE}.expires_at ELSE excluded.expires_at END
    RETURNING CAST(value AS INTEGER)`,
  // Only a live counter above 0 moves, and no row is made: a take-back never goes below 0.
  decrementIfPositive: `UPDATE ${TABLE} SET value = CAST(CAST(value AS INTEGER) - 1 AS TEXT)
    WHERE key = @key AND ${LIVE} AND CAST(value AS INTEGER) > 0 RETURNING CAST(value AS INTEGER)`,
  // One statement each: the comparison and the write share SQLite's write lock. A null @expiresAt keeps the expiry.
  replaceIfUnchanged: `UPDATE ${TABLE} SET value = @value, expires_at = COALESCE(@expiresAt, expires_at)
    WHERE key = @key AND value = @expected AND ${LIVE}`,
  deleteIfUnchanged: `DELETE FROM ${TABLE} WHERE key = @key AND value = @expected AND ${LIVE}`,
  // Expired rows are removed too, but only a live one counts as deleted/taken.
  take: `DELETE FROM ${TABLE} WHERE key = @key RETURNING value, expires_at`,
  keys: `SELECT key FROM ${TABLE} WHERE key >= @prefix AND ${LIVE} ORDER BY key`,
  purge: `DELETE FROM ${TABLE} WHERE key IN
    (SELECT key FROM ${TABLE} WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @limit)`,
} as const
