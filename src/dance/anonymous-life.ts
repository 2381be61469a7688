/**
 * How long an anonymous user's records live (README: kept in the store, sealed, for
 * callers.anonymousTtl at most): until the earlier of the end they were written with and their
 * making plus the anonymousTtl in force. So shortening anonymousTtl (a reload, a restart) ends the
 * records already stored as it ends new ones: a read takes one past it for absent (and removes it),
 * a move or an identityToMerge leaves it, and a sweep removes those past it and brings the others'
 * store expiry forward; lengthening it never extends one. Known users' records, and an earlier
 * version's dance state (which does not say when it was made), have no such end: their store
 * expiry bounds them in the sweep, and every read refuses the latter (no clearBinding).
 */
import { endRecords, type RecordEnd, type Store } from '../store/index.js'
import { ANONYMOUS_TOKEN_PREFIX, LINK_PREFIX, PENDING_PREFIX } from './token-keys.js'
import { bindClear, clearFieldsBound, TOKEN_CLEAR_FIELDS } from './clear-binding.js'
import type { MoveOf } from './token-move.js'
import type { StoredToken } from './tokens.js'

/** What an anonymous record keeps of its life, in clear beside its sealed fields. */
export interface AnonymousLife {
  /** When a dance's record was made, ms since the epoch (a token's is its `obtainedAt`). */
  createdAt?: number
  /** The end it was written with (its store expiry), ms since the epoch. */
  expiresAt?: number
}

/** The end of a record made at `madeAt` under `anonymousTtlMs`; undefined when it does not say when it was made. */
function anonymousEnd(madeAt: unknown, expiresAt: unknown, anonymousTtlMs: number): RecordEnd | undefined {
  if (typeof madeAt !== 'number') return undefined
  const written = typeof expiresAt === 'number' ? expiresAt : undefined
  return { end: Math.min(madeAt + anonymousTtlMs, written ?? Infinity), ...(written !== undefined ? { written } : {}) }
}

/** A token's life: made when obtained. */
const tokenLife = (t: { obtainedAt?: unknown; expiresAt?: unknown }, anonymousTtlMs: number): RecordEnd | undefined => anonymousEnd(t.obtainedAt, t.expiresAt, anonymousTtlMs)

/** A dance record's life (pending request, link); none for a known user's. */
const danceLife = (r: { anonymous?: unknown; createdAt?: unknown; expiresAt?: unknown }, anonymousTtlMs: number): RecordEnd | undefined =>
  r.anonymous === true ? anonymousEnd(r.createdAt, r.expiresAt, anonymousTtlMs) : undefined

/** The life a new anonymous dance record carries, made now and stored for `ttlMs`. */
export function newLife(ttlMs: number, now = Date.now()): Required<AnonymousLife> {
  return { createdAt: now, expiresAt: now + ttlMs }
}

/** When a dance's record (pending request, link) ends; undefined for a known user's or an earlier version's. */
export const danceRecordEnd = (record: AnonymousLife & { anonymous?: unknown }, anonymousTtlMs: number): number | undefined => danceLife(record, anonymousTtlMs)?.end

/**
 * An anonymous user's token moved: none when it has ended, or its life in clear is not the one
 * sealed with it (clear-binding.ts: removed, nothing moves); to another anonymous id (an earlier
 * version's key) with what is left of its life, bound again; to a known user (identityToMerge)
 * without an end or a binding, as a known user's token has none.
 */
export function anonymousMove(anonymousTtlMs: number, toKnown: boolean): MoveOf<StoredToken> {
  return (token) => {
    const life = tokenLife(token, anonymousTtlMs)
    const now = Date.now()
    if (!clearFieldsBound(token, TOKEN_CLEAR_FIELDS) || (life !== undefined && life.end <= now)) return undefined
    const { expiresAt: _written, clearBinding: _bound, ...kept } = token
    if (toKnown) return { copy: kept }
    const end = life?.end ?? now + anonymousTtlMs
    return { copy: bindClear(Object.assign(kept, { expiresAt: end }), TOKEN_CLEAR_FIELDS), ttlMs: end - now }
  }
}

/**
 * Removes the anonymous users' tokens and dance records past their end under `anonymousTtlMs`, and
 * brings the others' store expiry forward to it (a sweep, after anonymousTtl was shortened); how many it removed.
 */
export async function endAnonymousDanceRecords(store: Store, anonymousTtlMs: number, now = Date.now()): Promise<number> {
  const tokens = await endRecords(store, ANONYMOUS_TOKEN_PREFIX, (_key, text) => tokenLife(parsed(text), anonymousTtlMs), now)
  let dances = 0
  for (const prefix of [PENDING_PREFIX, LINK_PREFIX]) dances += await endRecords(store, prefix, (_key, text) => danceLife(parsed(text), anonymousTtlMs), now)
  return tokens + dances
}

/** The fields of a stored record; none for a value that is not one (damaged: left to its store expiry, never the end of a sweep). */
function parsed(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** When an anonymous user's token ends under `anonymousTtlMs` (what a read of it judges): at once when its life in clear is not the one sealed with it. */
export const tokenEnd = (anonymousTtlMs: number) => (token: StoredToken): number | undefined => (clearFieldsBound(token, TOKEN_CLEAR_FIELDS) ? tokenLife(token, anonymousTtlMs)?.end : -Infinity)
