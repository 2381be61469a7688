/**
 * identityToMerge: an anonymous user's tokens moved to the known user (OAuth1TokenRepo.mergeAnonymous).
 * A token past its end (callers.anonymousTtl, anonymous-life.ts) is as good as expired: removed, never
 * moved (before, one a shortened anonymousTtl had ended still became the known user's, for good).
 */
import type { SecretFields } from '../store/index.js'
import { anonymousMove } from './anonymous-life.js'
import { tokenKey, userPrefix } from './token-keys.js'
import { moveRecord } from './token-move.js'
import type { StoredToken, TokenOwner, TokenRepoOptions } from './tokens.js'

/** Whose tokens move where: the anonymous and the known user of user space `space`, for `profiles` (those the asserting app may use). */
export interface Merge {
  space: string
  anonymous: string
  known: string
  profiles: ReadonlySet<string>
}

/** Moves the anonymous user's tokens of the merge's profiles to the known user; how many moved. */
export async function mergeAnonymous(o: TokenRepoOptions, { space, anonymous, known, profiles }: Merge, secrets: SecretFields<StoredToken>): Promise<number> {
  let moved = 0
  // Only this space's anonymous user: the same id asserted by an app of another space is someone else.
  const from = userPrefix(space, anonymous, true)
  for (const key of await o.store.keys(from)) {
    const [profile = '', tenant = ''] = key.slice(from.length).split(':').map(decodeURIComponent)
    // Another app's profile: not this caller's to move (it expires with the anonymous user).
    if (!profiles.has(profile)) continue
    const owner: TokenOwner = { space, profile, ...(tenant !== '' ? { tenant } : {}), user: known, anonymous: false }
    // Written before the anonymous one is deleted: a crash in between leaves a copy, never a
    // loss. Only where the known user has none: an anonymous session never replaces theirs.
    // A revoke of the anonymous user meanwhile wins (token-move.ts).
    if ((await moveRecord(o, key, tokenKey(owner), secrets, anonymousMove(o.anonymousTtlMs, true))) === true) moved++
  }
  return moved
}
