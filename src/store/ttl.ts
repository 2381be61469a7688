/**
 * TTL rules shared by every backend, so SQLite, Redis and memory agree on what a TTL
 * means: whole milliseconds, strictly positive, or undefined for "never expires".
 */

/** Whole positive milliseconds for a TTL, undefined for none; misuse is a TypeError. */
export function normalizeTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined
  // A zero or negative TTL would mean "already expired": Redis rejects it and the other
  // backends would silently drop the write, so it is refused as code misuse everywhere.
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`store: ttlMs must be a positive finite number of milliseconds, got ${String(ttlMs)}`)
  }
  return Math.ceil(ttlMs)
}

/** Absolute expiry (ms since the epoch) for a TTL, or null for "never". */
export function expiryOf(ttlMs: number | undefined, now: number): number | null {
  const ttl = normalizeTtl(ttlMs)
  return ttl === undefined ? null : now + ttl
}

/** The step of Store.increment: a safe integer, or a TypeError (code misuse, as a bad TTL is). */
export function normalizeStep(by: number): number {
  if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
    throw new TypeError(`store: increment step must be a safe integer, got ${String(by)}`)
  }
  return by
}
