/**
 * The store keys of users' tokens, `oauth1:token:<space>/<user>:<profile>:<tenant>` for known and
 * `oauth1:anon:…` for anonymous users, each part URI-encoded (so no part holds a raw "/" or ":"
 * and the first of each splits a key unambiguously). Earlier versions wrote
 * `oauth1:token:<user>:<profile>:<tenant>`, with no user space: such keys are listed and
 * revoked, never read for a request.
 */
import { createHash } from 'node:crypto'
import { latin1Reading } from '../callers/index.js'
import type { Store } from '../store/index.js'
import type { TokenOwner } from './tokens.js'

/** The key spaces of known and of anonymous users' tokens (the console lists both). */
export const KNOWN_TOKEN_PREFIX = 'oauth1:token:'
export const ANONYMOUS_TOKEN_PREFIX = 'oauth1:anon:'

/** The owner of a stored key; `space` undefined: a key of an earlier version, which had no user spaces. */
export type StoredTokenOwner = Omit<TokenOwner, 'space'> & { readonly space: string | undefined }

const enc = encodeURIComponent

/** The prefix of every key of one user of one space, known or anonymous (ends with ":", so no other user's). */
export function userPrefix(space: string, user: string, anonymous: boolean): string {
  return `${anonymous ? ANONYMOUS_TOKEN_PREFIX : KNOWN_TOKEN_PREFIX}${enc(space)}/${enc(user)}:`
}

/**
 * Store key of a user's token; the space and user come first so one prefix lists all of a
 * user's tokens. Known and anonymous users have separate key spaces: the same id names
 * different entries.
 */
export function tokenKey(o: TokenOwner): string {
  return `${userPrefix(o.space, o.user, o.anonymous)}${enc(o.profile)}:${enc(o.tenant ?? '')}`
}

/** The key of a stored token, an earlier version's (no space) included: what the console revokes. */
export function storedTokenKey(o: StoredTokenOwner): string {
  if (o.space !== undefined) return tokenKey({ space: o.space, profile: o.profile, ...(o.tenant !== undefined ? { tenant: o.tenant } : {}), user: o.user, anonymous: o.anonymous })
  return `${o.anonymous ? ANONYMOUS_TOKEN_PREFIX : KNOWN_TOKEN_PREFIX}${enc(o.user)}:${enc(o.profile)}:${enc(o.tenant ?? '')}`
}

/** A token key read back into its owner; undefined for anything not written by storedTokenKey's rules. */
export function parseTokenKey(key: string): StoredTokenOwner | undefined {
  const anonymous = key.startsWith(ANONYMOUS_TOKEN_PREFIX)
  if (!anonymous && !key.startsWith(KNOWN_TOKEN_PREFIX)) return undefined
  const [who = '', profile = '', tenant = ''] = key.slice((anonymous ? ANONYMOUS_TOKEN_PREFIX : KNOWN_TOKEN_PREFIX).length).split(':')
  // Earlier versions' keys start with the encoded user, which holds no raw "/".
  const slash = who.indexOf('/')
  try {
    const owner: StoredTokenOwner = {
      space: slash < 0 ? undefined : decodeURIComponent(who.slice(0, slash)),
      user: decodeURIComponent(slash < 0 ? who : who.slice(slash + 1)),
      profile: decodeURIComponent(profile),
      ...(tenant !== '' ? { tenant: decodeURIComponent(tenant) } : {}),
      anonymous,
    }
    // Only the key these parts make again: a stray key under the prefix names no owner.
    return storedTokenKey(owner) === key ? owner : undefined
  } catch {
    return undefined
  }
}

/**
 * The ids whose tokens a revoke of `user` removes: the id, and its Latin-1 reading (the key an
 * earlier version stored a header-named user's token under), since the user's next call without a
 * token of its own takes that one over (findOrAdoptToken): a revoke that left it would be undone.
 */
export function revokedIds(user: string): string[] {
  const former = latin1Reading(user)
  return former === undefined ? [user] : [user, former]
}

/**
 * The keys of the user id's tokens (known and anonymous) for a profile and tenant in every user
 * space, earlier versions' keys included: what an operator's revoke without an app removes.
 */
export async function keysInEverySpace(store: Store, owner: Omit<TokenOwner, 'anonymous' | 'space'>): Promise<string[]> {
  const out: string[] = []
  const ids = revokedIds(owner.user)
  for (const prefix of [KNOWN_TOKEN_PREFIX, ANONYMOUS_TOKEN_PREFIX]) {
    for (const key of await store.keys(prefix)) {
      const found = parseTokenKey(key)
      if (found !== undefined && ids.includes(found.user) && found.profile === owner.profile && found.tenant === owner.tenant) out.push(key)
    }
  }
  return out
}

// Request tokens and link ids travel in browser URLs: only their digests are keys.
const digest = (s: string): string => createHash('sha256').update(s).digest('base64url')
/** The key spaces of dances waiting for their callback, one-time links, and the links handed out again. */
export const [PENDING_PREFIX, LINK_PREFIX, REUSABLE_LINK_PREFIX] = ['oauth1:request:', 'oauth1:link:', 'oauth1:link-of:'] as const
export const pendingKey = (requestToken: string): string => `${PENDING_PREFIX}${digest(requestToken)}`
export const linkKey = (id: string): string => `${LINK_PREFIX}${digest(id)}`
// The owner's reusable link per host its origin names (a link calls back to its own origin, and the
// dance's cookie belongs to a host, any port: RFC 6265 §8.5): keyed by a digest, its id sealed.
export const reusableLinkKey = (owner: TokenOwner, origin: string | undefined): string => `${REUSABLE_LINK_PREFIX}${digest(origin === undefined ? tokenKey(owner) : `${tokenKey(owner)} ${new URL(origin).hostname}`)}`
