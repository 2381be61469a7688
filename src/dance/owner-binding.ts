/**
 * Whose a dance's record is (pending request, one-time link), sealed with it. The owner fields
 * stay in clear beside the sealed ones (the console and the anonymous sweep read them), and
 * earlier releases sealed only the secrets: an owner edited in the store, or a record's sealed
 * fields put under another owner, still opened. This release also seals the owner itself in the
 * record's `ownerBinding` field (AAD: the store key and the field name, as every sealed field's) and
 * refuses a record whose clear owner is not the one sealed. Earlier releases leave the field as it
 * is (they open only the fields they know), so they read this release's records during a rolling
 * update. Records without a binding (written by releases before the one that introduced it) are
 * refused now that UNBOUND_OWNER_ACCEPTED is off (docs/store.md, Rolling upgrades and rollbacks).
 */
import type { TokenOwner } from './tokens.js'

/**
 * Whether a record without `ownerBinding` is read unchecked. The release that introduced the binding
 * (b9d26326) read them, so a rolling update from an earlier release kept its dances; this one, the
 * next, refuses them: every release it is rolled out beside writes the binding, and such records (10
 * minutes at most: a dance's life) are gone. One whose binding was deleted in the store is no longer
 * read unchecked.
 */
export const UNBOUND_OWNER_ACCEPTED = false

/** A dance record with its owner sealed: what this release writes. */
export interface OwnerBound {
  /** The owner fields' canonical text (ownerText), sealed at rest; absent in earlier releases' records. */
  ownerBinding?: string
}

/** The owner fields as one text: JSON of a fixed tuple, so no two owners spell the same. */
export function ownerText(o: TokenOwner): string {
  return JSON.stringify([o.space, o.profile, o.tenant ?? null, o.user, o.anonymous])
}

/** The record with its owner bound (sealed with it at the write). */
export function bindOwner<T extends TokenOwner>(record: T): T & OwnerBound {
  return Object.assign(record, { ownerBinding: ownerText(record) })
}

/**
 * The record when its clear owner is the one sealed with it; undefined (as good as none) when not,
 * and when it has no binding unless `acceptUnbound`.
 */
export function boundToOwner<T extends TokenOwner & OwnerBound>(record: T | undefined, acceptUnbound = UNBOUND_OWNER_ACCEPTED): T | undefined {
  if (record === undefined) return undefined
  if (record.ownerBinding === undefined) return acceptUnbound ? record : undefined
  return record.ownerBinding === ownerText(record) ? record : undefined
}
