/**
 * The clear fields of a dance's records, sealed with them. An anonymous user's token says in clear
 * when it was obtained and until when it is kept (`obtainedAt`, `expiresAt`), an anonymous user's
 * dance record when it was made (`createdAt`, `expiresAt`), a pending request the digest of its
 * browser's cookie (`browser`), a link the origin it was made on (`origin`): the anonymous sweep
 * and the console read them without the seal keys, so they stay in clear. Earlier releases sealed
 * none of them, so whoever could write to the store without the seal keys could push an anonymous
 * token's end past a shortened callers.anonymousTtl, or swap a dance's browser digest or a link's
 * origin, and the record still opened. This release also seals them in the record's `clearBinding`
 * field (AAD: the store key and the field name, as every sealed field's) and takes a record whose
 * clear fields are not the ones sealed for expired.
 *
 * The second release of a rollout over two (as `ownerBinding`'s, owner-binding.ts): the first
 * (c5c6d98f) wrote the field everywhere and still read records without it; this one refuses them,
 * now that UNBOUND_CLEAR_ACCEPTED is off. A binding that does not open (an earlier release moved the
 * token to another key, or left the binding under a key since removed) counts as none (records.ts,
 * OptionalSeal), so its record is refused too.
 */
import type { OptionalSeal } from '../store/index.js'

/**
 * Whether a record without `clearBinding` is read unchecked. The release that introduced the binding
 * (c5c6d98f) read them, so a rolling update from an earlier release kept its anonymous users' tokens
 * and its dances; this one, the next, refuses them: every release it is rolled out beside writes the
 * binding (docs/store.md, Rolling upgrades and rollbacks). One whose binding was deleted in the
 * store is no longer read unchecked.
 */
export const UNBOUND_CLEAR_ACCEPTED = false

/** A record with its clear fields sealed: what this release writes. */
export interface ClearBound {
  /** The bound clear fields' canonical text (clearText), sealed at rest; absent in earlier releases' records. */
  clearBinding?: string
}

/** The sealed field, as records.ts lists it: one that does not open reads as none. */
export const CLEAR_BINDING_SEAL: OptionalSeal<'clearBinding'> = { optional: 'clearBinding' }

/** The clear fields each record kind binds. */
export const TOKEN_CLEAR_FIELDS = ['obtainedAt', 'expiresAt'] as const
export const PENDING_CLEAR_FIELDS = ['createdAt', 'expiresAt', 'browser'] as const
export const LINK_CLEAR_FIELDS = ['createdAt', 'expiresAt', 'origin'] as const

/** JSON with object keys sorted, so a value reads back as the text it was bound with. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value !== 'object' || value === null) return value
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]))
}

/** The fields as one text: each `[value]`, or `[]` when absent (so an added field, even `null`, shows). */
export function clearText(record: object, fields: readonly string[]): string {
  const r = record as Record<string, unknown>
  return JSON.stringify(fields.map((f) => (r[f] === undefined ? [] : [canonical(r[f])])))
}

/** The record with its clear fields bound (sealed with it at the write). */
export function bindClear<T extends object>(record: T, fields: readonly string[]): T & ClearBound {
  return Object.assign(record, { clearBinding: clearText(record, fields) })
}

/** True when the record's clear fields are the ones sealed with it (or it has no binding, while `acceptUnbound`). */
export function clearFieldsBound(record: ClearBound, fields: readonly string[], acceptUnbound = UNBOUND_CLEAR_ACCEPTED): boolean {
  if (record.clearBinding === undefined) return acceptUnbound
  try {
    return record.clearBinding === clearText(record, fields)
  } catch {
    // A clear value too deeply nested to spell (written by hand into the store): not the one sealed.
    return false
  }
}

/** The record when its clear fields are bound (clearFieldsBound); undefined (as good as expired) when not. */
export function boundToClear<T extends ClearBound>(record: T | undefined, fields: readonly string[], acceptUnbound = UNBOUND_CLEAR_ACCEPTED): T | undefined {
  return record !== undefined && clearFieldsBound(record, fields, acceptUnbound) ? record : undefined
}
