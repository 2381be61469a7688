/**
 * Where the three-legged dance keeps its state: users' access tokens per (user space, user,
 * profile, tenant), pending request tokens (with the digest of the cookie that binds each to
 * the browser that started it), and one-time authorize links. Secrets are
 * sealed with the store key as AAD. Everything is in the shared store, so any worker or
 * replica continues a dance another one started. Anonymous users' tokens live under keys of
 * their own (`oauth1:anon:…`), so an anonymous id can never name, read or move a known
 * user's token; they expire after callers.anonymousTtl and move to a known user only by
 * identityToMerge.
 * A `sub` is scoped to the app that asserted it (RFC 7519 §4.1.2: to its issuer), so every
 * token belongs to a user space: by default one app's, shared only by apps configured with
 * the same callers.apps[].userSpace.
 */
import { randomBytes } from 'node:crypto'
import { getRecord, putRecord, putRecordIfAbsent, SealError, sealedRecords, takeRecord, type ResealedKind, type SealedKind, type Sealer, type SecretFields, type Store } from '../store/index.js'
import type { BrowserBinding } from './binding.js'
import { findOrAdoptToken, findToken } from './adopt-token.js'
import { danceRecordEnd, newLife, tokenEnd, type AnonymousLife } from './anonymous-life.js'
import { mergeAnonymous } from './merge-anonymous.js'
import { bindOwner, boundToOwner, type OwnerBound } from './owner-binding.js'
import { bindClear, boundToClear, CLEAR_BINDING_SEAL, LINK_CLEAR_FIELDS, PENDING_CLEAR_FIELDS, TOKEN_CLEAR_FIELDS, type ClearBound } from './clear-binding.js'
import { revokeKeys } from './token-move.js'
import { ANONYMOUS_TOKEN_PREFIX, KNOWN_TOKEN_PREFIX, keysInEverySpace, LINK_PREFIX, linkKey, PENDING_PREFIX, pendingKey, REUSABLE_LINK_PREFIX, reusableLinkKey, revokedIds, tokenKey, type StoredTokenOwner } from './token-keys.js'

/** Whose token: the user space, the user, the profile and the tenant (when the endpoint uses tenants). */
export interface TokenOwner {
  /** The asserting app's user space (callers.apps[].userSpace); "" for a caller without an app. */
  readonly space: string
  readonly profile: string
  readonly tenant?: string
  readonly user: string
  /** Anonymous users' entries never outlive callers.anonymousTtl. */
  readonly anonymous: boolean
}

/** A user's access token and the fields they supplied (e.g. a PIN); an anonymous user's has its life bound (clear-binding.ts). */
export interface StoredToken extends ClearBound {
  token: string
  tokenSecret: string
  fields?: Record<string, string>
  obtainedAt: number
  /** An anonymous user's: the end it was stored with (anonymous-life.ts); absent for a known user's, and in earlier versions' records. */
  expiresAt?: number
}

/** A request token waiting for the provider's callback (an anonymous user's says when it was made: anonymous-life.ts). */
export interface PendingRequest extends TokenOwner, AnonymousLife, OwnerBound, ClearBound {
  secret: string
  fields?: Record<string, string>
  /** The browser that started the dance: only its cookie completes it. */
  browser: BrowserBinding
  /** danceSettings of the profile it was started under: completed only under the same (a record of an earlier version has none, and completes as there). */
  settings?: string
}

/** A one-time authorize link: whose it is, and the token its page's form must send back (an anonymous user's says when it was made). */
export interface LinkRecord extends TokenOwner, AnonymousLife, OwnerBound, ClearBound {
  /** Shown only in the link's page: a POST without it (a preview, a forged form) consumes nothing. */
  readonly csrf: string
  /** The user's fields when the caller supplied them (the page then asks for none). */
  readonly fields?: Record<string, string>
  /** The origin the link was made on (by its credentialed maker): the dance's callback origin unless the config names one. */
  readonly origin?: string
}

/** Everything the dance reads and writes, in the shared store. */
export interface OAuth1TokenRepo {
  saveToken(owner: TokenOwner, token: StoredToken): Promise<void>
  findToken(owner: TokenOwner): Promise<StoredToken | undefined>
  /**
   * The owner's token, or, when they have none, the one stored for the same space, profile and
   * tenant under `formerUser` (the id an earlier version keyed them by), moved to the owner first:
   * written under the owner's key only if still absent, then removed from the former one.
   */
  findOrAdoptToken(owner: TokenOwner, formerUser: string): Promise<StoredToken | undefined>
  /**
   * Removes the user id's token, known or anonymous, in the owner's user space or, with
   * `space` undefined, in every user space (and earlier versions' keys), and the one under the
   * id's Latin-1 reading (revokedIds); true when one was removed.
   */
  revoke(owner: Omit<StoredTokenOwner, 'anonymous'>): Promise<boolean>
  /** Parks a started dance; false (nothing written) when a live dance already waits on the request token. */
  savePending(requestToken: string, pending: PendingRequest, ttlMs: number): Promise<boolean>
  /** One-shot: a request token is exchanged at most once. */
  takePending(requestToken: string): Promise<PendingRequest | undefined>
  /** Creates an unguessable one-time link id naming the owner (and the user's fields, when known), made on `origin`. */
  createLink(owner: TokenOwner, ttlMs: number, fields?: Record<string, string>, origin?: string): Promise<string>
  /**
   * The link a failing call hands out for `owner`: the one an earlier failing call made while it is
   * unused and has at least half its `ttlMs` left, else a new one. Without it every retried call
   * stored a link of its own (300 calls, 300 records for 10 minutes each).
   */
  reusableLink(owner: TokenOwner, ttlMs: number, origin?: string): Promise<string>
  peekLink(id: string): Promise<LinkRecord | undefined>
  takeLink(id: string): Promise<LinkRecord | undefined>
  /**
   * identityToMerge: moves the anonymous user `anonymous`'s tokens of `profiles` (those the
   * asserting app may use) to the known user `known`, both of user space `space` (the asserting
   * app's: another app's anonymous user of the same id is not its to move). A token the known
   * user already holds for a profile and tenant stays, and the anonymous one is dropped.
   * Returns how many moved.
   */
  mergeAnonymous(space: string, anonymous: string, known: string, profiles: ReadonlySet<string>): Promise<number>
}

export interface TokenRepoOptions {
  store: Store
  sealer: Sealer
  /** How long anonymous users' entries are kept. */
  anonymousTtlMs: number
  /** A record read under a seal key no longer active was sealed again under the active one (store_records_resealed_total). */
  onResealed?: (kind: ResealedKind) => void
}

// clearBinding: the clear fields sealed with the record (clear-binding.ts); one that does not open reads as none, and its record is refused.
const TOKEN_SECRETS: SecretFields<StoredToken> = ['token', 'tokenSecret', 'fields', CLEAR_BINDING_SEAL]
// ownerBinding: the owner sealed with the record (owner-binding.ts).
const PENDING_SECRETS: SecretFields<PendingRequest> = ['secret', 'fields', 'settings', 'ownerBinding', CLEAR_BINDING_SEAL]
const LINK_SECRETS: SecretFields<LinkRecord> = ['csrf', 'fields', 'ownerBinding', CLEAR_BINDING_SEAL]

const REUSABLE_SECRETS: SecretFields<{ id: string }> = ['id']

/** Every record the dance seals, by kind: what a re-seal walk renews after store.activeKey changed. */
export function sealedDanceRecords(sealer: Sealer): SealedKind[] {
  return [
    sealedRecords("users' tokens", [KNOWN_TOKEN_PREFIX, ANONYMOUS_TOKEN_PREFIX], sealer, TOKEN_SECRETS),
    sealedRecords('dances waiting for their callback', [PENDING_PREFIX], sealer, PENDING_SECRETS),
    sealedRecords('one-time authorize links', [LINK_PREFIX], sealer, LINK_SECRETS),
    sealedRecords('links handed out again', [REUSABLE_LINK_PREFIX], sealer, REUSABLE_SECRETS),
  ]
}

function ownerOf(o: TokenOwner): TokenOwner {
  return { space: o.space, profile: o.profile, ...(o.tenant !== undefined ? { tenant: o.tenant } : {}), user: o.user, anonymous: o.anonymous }
}

/** A pending request or link an earlier version wrote has no user space: it is as good as expired. */
export const withSpace = <T extends { space?: unknown }>(record: T | undefined): T | undefined => (typeof record?.space === 'string' ? record : undefined)

/** A record sealed under a key since retired is as good as none (the user asks for a new link; never a 500). */
const unlessUnsealable = <T>(read: Promise<T | undefined>): Promise<T | undefined> => read.catch((err: unknown) => (err instanceof SealError ? undefined : Promise.reject(err)))

/** When a link ends; at once when its clear fields are not the ones sealed with it (clear-binding.ts): removed, as one past its end. */
const linkEnd = (anonymousTtlMs: number) => (r: LinkRecord): number | undefined => (boundToClear(r, LINK_CLEAR_FIELDS) ? danceRecordEnd(r, anonymousTtlMs) : -Infinity)

/** Builds the repository over the configured stores and sealer. */
export function createTokenRepo(o: TokenRepoOptions): OAuth1TokenRepo {
  const ttl = (anonymous: boolean, ttlMs?: number): number | undefined => (anonymous ? Math.min(ttlMs ?? Infinity, o.anonymousTtlMs) : ttlMs)
  // An anonymous user's dance record says when it was made and until when it is kept (anonymous-life.ts).
  const life = (owner: TokenOwner, ttlMs: number): AnonymousLife => (owner.anonymous ? newLife(ttl(true, ttlMs) as number) : {})
  const ended = <T extends TokenOwner & AnonymousLife>(r: T | undefined): T | undefined => ((r && danceRecordEnd(r, o.anonymousTtlMs)) ?? Infinity) <= Date.now() ? undefined : r
  // Taken either way: one that cannot be opened, is not bound to its owner or its clear fields, or has ended, is used up as well.
  const take = async <T extends TokenOwner & AnonymousLife & OwnerBound & ClearBound>(key: string, secrets: SecretFields<T>, clear: readonly string[]): Promise<T | undefined> => ended(boundToClear(boundToOwner(withSpace(await unlessUnsealable(takeRecord<T>(o.store, o.sealer, key, secrets)))), clear))
  return {
    saveToken: (owner, token) => saveToken(o, owner, token),
    findToken: (owner) => findToken(o, owner, TOKEN_SECRETS),
    findOrAdoptToken: (owner, formerUser) => findOrAdoptToken(o, owner, formerUser, TOKEN_SECRETS),
    async revoke(owner) {
      const { space } = owner
      const keys =
        space !== undefined
          ? revokedIds(owner.user).flatMap((user) => [false, true].map((anonymous) => tokenKey({ space, profile: owner.profile, ...(owner.tenant !== undefined ? { tenant: owner.tenant } : {}), user, anonymous })))
          : await keysInEverySpace(o.store, owner)
      return revokeKeys(o.store, keys)
    },
    async savePending(requestToken, pending, ttlMs) {
      const record: PendingRequest = bindClear(Object.assign(bindOwner(ownerOf(pending)), { secret: pending.secret, browser: pending.browser, settings: pending.settings }, pending.fields ? { fields: pending.fields } : {}, life(pending, ttlMs)), PENDING_CLEAR_FIELDS)
      return putRecordIfAbsent(o.store, o.sealer, pendingKey(requestToken), record, PENDING_SECRETS, ttl(pending.anonymous, ttlMs))
    },
    takePending: (requestToken) => take<PendingRequest>(pendingKey(requestToken), PENDING_SECRETS, PENDING_CLEAR_FIELDS),
    async createLink(owner, ttlMs, fields, origin) {
      const id = randomBytes(24).toString('base64url')
      const record: LinkRecord = bindClear(Object.assign(bindOwner(ownerOf(owner)), { csrf: randomBytes(24).toString('base64url') }, fields ? { fields } : {}, origin !== undefined ? { origin } : {}, life(owner, ttlMs)), LINK_CLEAR_FIELDS)
      await putRecord(o.store, o.sealer, linkKey(id), record, LINK_SECRETS, ttl(owner.anonymous, ttlMs))
      return id
    },
    async reusableLink(owner, ttlMs, origin) {
      const pointer = reusableLinkKey(owner, origin)
      const known = await unlessUnsealable(getRecord<{ id: string }>(o.store, o.sealer, pointer, REUSABLE_SECRETS, undefined, () => o.onResealed?.('reused_link')))
      // Still unused (a link opened is taken): the same link again.
      if (known !== undefined && (await this.peekLink(known.id)) !== undefined) return known.id
      const id = await this.createLink(owner, ttlMs, undefined, origin)
      // Remembered for half its life (an anonymous user's link lives at most callers.anonymousTtl):
      // a link handed out again always has at least that much left.
      await putRecord(o.store, o.sealer, pointer, { id }, REUSABLE_SECRETS, Math.floor((ttl(owner.anonymous, ttlMs) ?? ttlMs) / 2))
      return id
    },
    peekLink: async (id) => boundToOwner(withSpace(await unlessUnsealable(getRecord<LinkRecord>(o.store, o.sealer, linkKey(id), LINK_SECRETS, linkEnd(o.anonymousTtlMs), () => o.onResealed?.('authorize_link'))))),
    takeLink: (id) => take<LinkRecord>(linkKey(id), LINK_SECRETS, LINK_CLEAR_FIELDS),
    mergeAnonymous: (space, anonymous, known, profiles) => mergeAnonymous(o, { space, anonymous, known, profiles }, TOKEN_SECRETS),
  }
}

/** A user's token; an anonymous user's kept until its end (anonymous-life.ts), at most callers.anonymousTtl after it was obtained. */
async function saveToken(o: TokenRepoOptions, owner: TokenOwner, token: StoredToken): Promise<void> {
  const expiresAt = token.obtainedAt + o.anonymousTtlMs
  // An anonymous user's life is bound to it (clear-binding.ts); a known user's judges nothing.
  const stored: StoredToken = owner.anonymous ? bindClear(Object.assign({}, token, { expiresAt }), TOKEN_CLEAR_FIELDS) : token
  await putRecord(o.store, o.sealer, tokenKey(owner), stored, TOKEN_SECRETS, owner.anonymous ? Math.max(1, expiresAt - Date.now()) : undefined)
}
