import type { ResealedKind, Store } from '../store/index.js'
import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import type { AssertedCaller } from './caller.js'
import { aliasRefusal, bearerLifetimeSec, lifetimeRefusal, rsa15Refusal, type BearerFacts } from './bearer-binding.js'
import { verifySignedJwt, type VerifyOptions } from './jwt.js'
import { exactJson } from './exact-json.js'
import { BEARER_LENGTH, newBearerToken } from './bearer-shape.js'
import { BEARER_PREFIX, CLAIMS_PREFIX, openRenewing, recordSealer, sha256, type Sealer } from './bearer-seal.js'
import { ANONYMOUS_LIFE_PREFIX, recordAnonymousLife } from './anonymous-bearers.js'

export type { Sealer } from './bearer-seal.js'

/** The body of a successful `POST /gateway/token`. */
export interface BearerToken {
  access_token: string
  token_type: 'bearer'
  expires_in: number
}

/** Where bearer records live: the shared store only, so any worker or replica resolves any bearer. */
export interface BearerStores {
  /** Shared by workers (SQLite) and replicas (Redis); records expire with the bearer. */
  store: Store
  /**
   * store.sealKeys: bearer records are sealed under them (so no one who can write to the store
   * but lacks the keys can make a record that resolves). Without them each record is sealed under
   * a key derived from its bearer, which only the caller holds: never stored in clear either way.
   */
  sealer?: Sealer
  /** Seals decrypted JWE claims (they may be secrets, such as a PIN); required for JWE callers. */
  claimsSealer?: Sealer
  /** A record read under a seal key no longer active was sealed again under the active one (store_records_resealed_total). */
  onResealed?: (kind: ResealedKind) => void
  /** Milliseconds since the epoch (tests). */
  now?: () => number
}

/** What resolving a JWT used directly as the bearer needs. */
export interface ResolveOptions extends VerifyOptions {
  apps: ReadonlyMap<string, CallerApp>
  /** `callers.bearerTtl` and `anonymousTtl` in force, seconds: a bearer outliving a shortened one ends (absent: not judged). */
  lifetimes?: { bearerTtlSec: number; anonymousTtlSec: number }
}

interface BearerRecord extends BearerFacts {
  caller: AssertedCaller
  expiresAt: number
  /** The app's keyId when the bearer was issued (absent in records of earlier versions). */
  appKey?: string
  /** The full claims are sealed apart, under the claims sealer (`bearer-claims:<id>`). */
  claimsSealed?: true
}

// Every bearer this release and earlier ones issued: base64url, BEARER_LENGTH characters.
const OPAQUE = new RegExp(`^[A-Za-z0-9_-]{${BEARER_LENGTH}}$`)
// The identity claims are not secrets; everything else from a JWE may be.
const IDENTITY_CLAIMS = ['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'isAnonymous', 'identityToMerge']

/**
 * Issues an opaque bearer for a verified caller; only its SHA-256 is a store key. Spelled so the
 * gateway knows it in text it forwards (bearer-shape.ts). `facts`: what its exchange was judged under.
 */
export async function issueBearer(caller: AssertedCaller, stores: BearerStores, ttlSec: number, appKey?: string, facts: Omit<BearerFacts, 'issuedAt'> = {}): Promise<BearerToken> {
  const token = newBearerToken()
  const id = sha256(token)
  const ttlMs = ttlSec * 1000
  const issuedAt = (stores.now ?? Date.now)()
  const expiresAt = issuedAt + ttlMs
  const key = Object.assign(appKey === undefined ? {} : { appKey }, facts, { issuedAt })
  // Sealed under the bearer's own key, the record tells the anonymous sweep nothing: its life is written beside it, first.
  if (caller.isAnonymous && stores.sealer === undefined) await recordAnonymousLife(stores.store, id, issuedAt, expiresAt, ttlMs)
  if (caller.viaJwe) {
    if (stores.claimsSealer === undefined) throw new TypeError('decrypted JWE claims need a claims sealer: they are never stored in plaintext')
    // Without it the record would read as an earlier version's, whose algorithm is unknown (bearer-binding.ts).
    if (facts.jweAlg === undefined) throw new TypeError('a JWE caller\'s bearer needs its assertion\'s algorithm (jweAlg)')
    const identity = Object.fromEntries(Object.entries(caller.claims).filter(([k]) => IDENTITY_CLAIMS.includes(k)))
    const claims = await stores.claimsSealer.seal(exactJson(caller.claims), `${CLAIMS_PREFIX}${id}`)
    await stores.store.put(`${CLAIMS_PREFIX}${id}`, claims, ttlMs)
    await stores.store.put(`${BEARER_PREFIX}${id}`, await seal(token, { caller: Object.assign({}, caller, { claims: identity }), expiresAt, claimsSealed: true, ...key }, stores), ttlMs)
  } else {
    await stores.store.put(`${BEARER_PREFIX}${id}`, await seal(token, { caller, expiresAt, ...key }, stores), ttlMs)
  }
  return { access_token: token, token_type: 'bearer', expires_in: ttlSec }
}

/**
 * Deletes a bearer issueBearer wrote but the exchange never handed out (best effort: its token
 * is known to no one, so one left behind grants nothing, and expires with its TTL).
 */
export async function discardBearer(token: string, stores: BearerStores): Promise<void> {
  const id = sha256(token)
  await Promise.all([`${BEARER_PREFIX}${id}`, `${CLAIMS_PREFIX}${id}`, `${ANONYMOUS_LIFE_PREFIX}${id}`].map((k) => stores.store.delete(k).catch(() => undefined)))
}

/** The caller behind `Bearer <token>`: an issued bearer, or a JWT without `jti` used directly. */
export async function resolveBearer(token: string, stores: BearerStores, opts: ResolveOptions): Promise<AssertedCaller> {
  if (token === '') throw authError('missing', 'bearer token is missing', { reason: 'caller_credentials_missing' })
  if (token.split('.').length === 3) return resolveJwt(token, opts)
  if (!OPAQUE.test(token)) throw authError('malformed', 'bearer token is malformed')
  const id = sha256(token)
  const record = await readRecord(token, stores)
  if (record === undefined || record.expiresAt <= (opts.now ?? Date.now)()) {
    throw authError('bearer_unknown', 'bearer token is unknown or expired')
  }
  const app = opts.apps.get(record.caller.appId)
  if (app === undefined) {
    throw authError('app_not_configured', `bearer token's app "${record.caller.appId}" is no longer configured`)
  }
  // A rotated secret or key (after a leak) ends the bearers issued under the old one, as a
  // removed app's do; records of earlier versions carry no key and run out with their TTL.
  if (record.appKey !== undefined && record.appKey !== app.keyId) {
    throw authError('app_key_changed', `bearer token was issued under a key app "${record.caller.appId}" no longer has (its hs256Secret or rs256PublicKey changed): exchange a new assertion`)
  }
  // So does a changed audience: the bearer holds its assertion's `aud` (records of earlier versions
  // too), which must still name the app's audience, as at the exchange. Bound to the settings, not
  // their history: an app changed back, like one removed and added back, takes its bearers again,
  // as a fresh start with that file would.
  if (!namesAudience(record.caller.claims?.['aud'], app.audience)) {
    throw authError('app_audience_changed', `bearer token was issued for an audience app "${record.caller.appId}" no longer has (its audience changed): exchange a new assertion`)
  }
  const { lifetimes } = opts
  const lifetime = lifetimes && bearerLifetimeSec(record.caller.isAnonymous, lifetimes.bearerTtlSec, lifetimes.anonymousTtlSec)
  const refusal = rsa15Refusal(record, record.caller.viaJwe === true || record.claimsSealed === true, app) ?? lifetimeRefusal(record, lifetime, (opts.now ?? Date.now)())
  if (refusal) throw refusal
  const claims = record.claimsSealed === true ? await readClaims(id, stores) : record.caller.claims
  if (claims === undefined) {
    throw authError('bearer_claims_unavailable', 'bearer token: its decrypted claims are expired or sealed under a retired key; exchange the assertion again')
  }
  // The alias keys a JWE's record leaves out are in its sealed claims: judged on the full claims.
  const aliases = aliasRefusal(claims, record.aliasPrefix, opts.claimAliasPrefix ?? '')
  if (aliases) throw aliases
  if (record.claimsSealed !== true) return Object.freeze(record.caller)
  return Object.freeze(Object.assign({}, record.caller, { claims: Object.freeze(claims) }))
}

/** jose's rule at the exchange: `aud` is the audience, or a list naming it. */
function namesAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience))
}

async function readClaims(id: string, stores: BearerStores): Promise<Record<string, unknown> | undefined> {
  const key = `${CLAIMS_PREFIX}${id}`
  const sealed = await stores.store.get(key)
  if (sealed === undefined || stores.claimsSealer === undefined) return undefined
  try {
    return JSON.parse(await openRenewing(stores.store, stores.claimsSealer, key, sealed, () => stores.onResealed?.('caller_claims'))) as Record<string, unknown>
  } catch {
    return undefined
  }
}

async function resolveJwt(jwt: string, opts: ResolveOptions): Promise<AssertedCaller> {
  const { caller } = await verifySignedJwt(jwt, opts.apps, opts, false)
  // A jti makes the JWT one-time: it must go through the token exchange's replay check.
  if (caller.jti !== undefined) {
    throw authError('jwt_bearer_has_jti', 'error verifying the jwt: a JWT with "jti" must be exchanged at /gateway/token')
  }
  // The merge runs once, before a bearer exists (assertion.ts); on every request it would scan the
  // anonymous user's tokens each time, and accepting the JWT without it would drop the merge unsaid.
  if (caller.identityToMerge !== undefined) {
    throw authError('jwt_bearer_has_identity_to_merge', 'error verifying the jwt: a JWT with "identityToMerge" must be exchanged at /gateway/token (the merge runs there)')
  }
  return caller
}

async function readRecord(token: string, stores: BearerStores): Promise<BearerRecord | undefined> {
  const key = `${BEARER_PREFIX}${sha256(token)}`
  const stored = await stores.store.get(key)
  if (stored === undefined) return undefined
  try {
    // An earlier version without seal keys wrote the record in clear (read while it lives, so a
    // rolling upgrade keeps its bearers; without seal keys a clear record grants nothing more).
    if (stores.sealer === undefined && stored.startsWith('{')) return JSON.parse(stored) as BearerRecord
    return JSON.parse(await openRenewing(stores.store, recordSealer(token, stores.sealer), key, stored, () => stores.onResealed?.('caller_bearer'))) as BearerRecord
  } catch {
    // Unreadable (sealed with a retired key, or corrupt): as good as absent.
    return undefined
  }
}

async function seal(token: string, record: BearerRecord, stores: BearerStores): Promise<string> {
  // The store key as AAD: a sealed record copied under another bearer's key does not open.
  // exactJson: the claims read back as verified (-0 and 1e400 included), as the JWT used directly gives them.
  return recordSealer(token, stores.sealer).seal(exactJson(record), `${BEARER_PREFIX}${sha256(token)}`)
}
