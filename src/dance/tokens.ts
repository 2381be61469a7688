/**
 * Where the three-legged dance keeps its state: users' access tokens per (profile,
 * tenant, user), pending request tokens, and one-time authorize links. Secrets are
 * sealed with the store key as AAD. Everything is in the shared store, so any worker or
 * replica continues a dance another one started; anonymous users' entries expire after
 * callers.anonymousTtl and are never moved to a known user except by identityToMerge.
 */
import { createHash, randomBytes } from 'node:crypto'
import { getRecord, putRecord, takeRecord, type Sealer, type SecretFields, type Store } from '../store/index.js'

/** Whose token: the profile, the tenant (when the endpoint uses tenants) and the user. */
export interface TokenOwner {
  readonly profile: string
  readonly tenant?: string
  readonly user: string
  /** Anonymous users' entries never outlive callers.anonymousTtl. */
  readonly anonymous: boolean
}

/** A user's access token and the fields they supplied (e.g. a PIN). */
export interface StoredToken {
  token: string
  tokenSecret: string
  fields?: Record<string, string>
  obtainedAt: number
}

/** A request token waiting for the provider's callback. */
export interface PendingRequest extends TokenOwner {
  secret: string
  fields?: Record<string, string>
}

/** A one-time authorize link: whose it is, and the token its page's form must send back. */
export interface LinkRecord extends TokenOwner {
  /** Shown only in the link's page: a POST without it (a preview, a forged form) consumes nothing. */
  readonly csrf: string
}

/** Everything the dance reads and writes, in the shared store. */
export interface OAuth1TokenRepo {
  saveToken(owner: TokenOwner, token: StoredToken): Promise<void>
  findToken(owner: TokenOwner): Promise<StoredToken | undefined>
  /** Removes the token wherever it is; true when one was removed. */
  revoke(owner: Omit<TokenOwner, 'anonymous'>): Promise<boolean>
  savePending(requestToken: string, pending: PendingRequest, ttlMs: number): Promise<void>
  /** One-shot: a request token is exchanged at most once. */
  takePending(requestToken: string): Promise<PendingRequest | undefined>
  /** Creates an unguessable one-time link id naming the owner. */
  createLink(owner: TokenOwner, ttlMs: number): Promise<string>
  peekLink(id: string): Promise<LinkRecord | undefined>
  takeLink(id: string): Promise<LinkRecord | undefined>
  /** Moves every token of user `from` to user `to` (identityToMerge); returns how many. */
  moveUser(from: string, to: { user: string; anonymous: boolean }): Promise<number>
}

export interface TokenRepoOptions {
  store: Store
  sealer: Sealer
  /** How long anonymous users' entries are kept. */
  anonymousTtlMs: number
}

const TOKEN_SECRETS: SecretFields<StoredToken> = ['token', 'tokenSecret', 'fields']
const PENDING_SECRETS: SecretFields<PendingRequest> = ['secret', 'fields']
const LINK_SECRETS: SecretFields<LinkRecord> = ['csrf']
const enc = encodeURIComponent

/** Store key of a user's token; the user comes first so one prefix lists all of a user's tokens. */
export function tokenKey(o: Omit<TokenOwner, 'anonymous'>): string {
  return `${userPrefix(o.user)}${enc(o.profile)}:${enc(o.tenant ?? '')}`
}

function userPrefix(user: string): string {
  return `oauth1:token:${enc(user)}:`
}

// Request tokens and link ids travel in browser URLs: only their digests are keys.
const digest = (s: string): string => createHash('sha256').update(s).digest('base64url')
const pendingKey = (requestToken: string): string => `oauth1:request:${digest(requestToken)}`
const linkKey = (id: string): string => `oauth1:link:${digest(id)}`

function ownerOf(o: TokenOwner): TokenOwner {
  return { profile: o.profile, ...(o.tenant !== undefined ? { tenant: o.tenant } : {}), user: o.user, anonymous: o.anonymous }
}

/** Builds the repository over the configured stores and sealer. */
export function createTokenRepo(o: TokenRepoOptions): OAuth1TokenRepo {
  const ttl = (anonymous: boolean, ttlMs?: number): number | undefined => (anonymous ? Math.min(ttlMs ?? Infinity, o.anonymousTtlMs) : ttlMs)
  const take = <T extends object>(key: string, secrets: SecretFields<T>): Promise<T | undefined> => takeRecord<T>(o.store, o.sealer, key, secrets)
  return {
    async saveToken(owner, token) {
      await putRecord(o.store, o.sealer, tokenKey(owner), token, TOKEN_SECRETS, ttl(owner.anonymous))
    },
    findToken: (owner) => getRecord<StoredToken>(o.store, o.sealer, tokenKey(owner), TOKEN_SECRETS),
    async revoke(owner) {
      return o.store.delete(tokenKey(owner))
    },
    async savePending(requestToken, pending, ttlMs) {
      const record: PendingRequest = Object.assign(ownerOf(pending), { secret: pending.secret }, pending.fields ? { fields: pending.fields } : {})
      await putRecord(o.store, o.sealer, pendingKey(requestToken), record, PENDING_SECRETS, ttl(pending.anonymous, ttlMs))
    },
    takePending: (requestToken) => take<PendingRequest>(pendingKey(requestToken), PENDING_SECRETS),
    async createLink(owner, ttlMs) {
      const id = randomBytes(24).toString('base64url')
      const record: LinkRecord = Object.assign(ownerOf(owner), { csrf: randomBytes(24).toString('base64url') })
      await putRecord(o.store, o.sealer, linkKey(id), record, LINK_SECRETS, ttl(owner.anonymous, ttlMs))
      return id
    },
    peekLink: (id) => getRecord<LinkRecord>(o.store, o.sealer, linkKey(id), LINK_SECRETS),
    takeLink: (id) => take<LinkRecord>(linkKey(id), LINK_SECRETS),
    async moveUser(from, to) {
      let moved = 0
      for (const key of await o.store.keys(userPrefix(from))) {
        const token = await getRecord<StoredToken>(o.store, o.sealer, key, TOKEN_SECRETS)
        if (token === undefined) continue
        const [profile = '', tenant = ''] = key.slice(userPrefix(from).length).split(':').map(decodeURIComponent)
        const owner: TokenOwner = { profile, ...(tenant !== '' ? { tenant } : {}), user: to.user, anonymous: to.anonymous }
        // Written before the old one is deleted: a crash in between leaves a copy, never a loss.
        await putRecord(o.store, o.sealer, tokenKey(owner), token, TOKEN_SECRETS, ttl(to.anonymous))
        await o.store.delete(key)
        moved++
      }
      return moved
    },
  }
}
