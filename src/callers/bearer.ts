import { createHash, randomBytes } from 'node:crypto'
import type { Store } from '../store/store.js'
import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import type { Caller } from './caller.js'
import { verifySignedJwt, type VerifyOptions } from './jwt.js'

/** The body of a successful `POST /gateway/token`. */
export interface BearerToken {
  access_token: string
  token_type: 'bearer'
  expires_in: number
}

/** Encrypts records at rest: structurally src/store/seal.ts's Sealer; `aad` binds a record to its key. */
export interface Sealer {
  seal(plain: string, aad?: string): string | Promise<string>
  open(sealed: string, aad?: string): string | Promise<string>
}

/** Where bearer records live. */
export interface BearerStores {
  /** Shared by replicas: a bearer issued by one works on all. */
  store: Store
  /** This process's memory only: anonymous callers, and decrypted claims not to be persisted. */
  ephemeral: Store
  /** When given, every record in `store` is sealed. */
  sealer?: Sealer
  /** JWE claims may be secrets (a PIN): put them in `store` (sealed) only when a profile asks. */
  persistDecryptedClaims?: boolean
  /** Milliseconds since the epoch (tests). */
  now?: () => number
}

/** What resolving a JWT used directly as the bearer needs. */
export interface ResolveOptions extends VerifyOptions {
  apps: ReadonlyMap<string, CallerApp>
}

interface BearerRecord {
  caller: Caller
  expiresAt: number
  /** The claims are in the issuing replica's `ephemeral` store only. */
  claimsLocal?: true
}

const OPAQUE = /^[A-Za-z0-9_-]{43}$/
// The identity claims are not secrets; everything else from a JWE may be.
const IDENTITY_CLAIMS = ['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'isAnonymous', 'identityToMerge']

/** Issues an opaque bearer for a verified caller; only its SHA-256 is a store key. */
export async function issueBearer(caller: Caller, stores: BearerStores, ttlSec: number): Promise<BearerToken> {
  const token = randomBytes(32).toString('base64url')
  const id = sha256(token)
  const ttlMs = ttlSec * 1000
  const expiresAt = (stores.now ?? Date.now)() + ttlMs
  if (caller.isAnonymous) {
    await stores.ephemeral.put(`bearer:${id}`, JSON.stringify({ caller, expiresAt }), ttlMs)
  } else if (caller.viaJwe && stores.persistDecryptedClaims !== true) {
    const identity = Object.fromEntries(Object.entries(caller.claims).filter(([k]) => IDENTITY_CLAIMS.includes(k)))
    const record: BearerRecord = { caller: { ...caller, claims: identity }, expiresAt, claimsLocal: true }
    await stores.ephemeral.put(`bearer-claims:${id}`, JSON.stringify(caller.claims), ttlMs)
    await stores.store.put(`bearer:${id}`, await seal(id, record, stores), ttlMs)
  } else {
    if (caller.viaJwe && stores.sealer === undefined) {
      throw new TypeError('persistDecryptedClaims needs a sealer: decrypted claims are never stored in plaintext')
    }
    await stores.store.put(`bearer:${id}`, await seal(id, { caller, expiresAt }, stores), ttlMs)
  }
  return { access_token: token, token_type: 'bearer', expires_in: ttlSec }
}

/** The caller behind `Bearer <token>`: an issued bearer, or a JWT without `jti` used directly. */
export async function resolveBearer(token: string, stores: BearerStores, opts: ResolveOptions): Promise<Caller> {
  if (token === '') throw authError('missing', 'bearer token is missing', { reason: 'caller_credentials_missing' })
  if (token.split('.').length === 3) return resolveJwt(token, opts)
  if (!OPAQUE.test(token)) throw authError('malformed', 'bearer token is malformed')
  const id = sha256(token)
  const record = await readRecord(id, stores)
  if (record === undefined || record.expiresAt <= (opts.now ?? Date.now)()) {
    throw authError('bearer_unknown', 'bearer token is unknown or expired')
  }
  if (!opts.apps.has(record.caller.appId)) {
    throw authError('app_not_configured', `bearer token's app "${record.caller.appId}" is no longer configured`)
  }
  if (record.claimsLocal !== true) return Object.freeze(record.caller)
  const claims = await stores.ephemeral.get(`bearer-claims:${id}`)
  if (claims === undefined) {
    throw authError(
      'bearer_claims_unavailable',
      'bearer token: its decrypted claims are kept only by the gateway replica that issued it; exchange the assertion again',
    )
  }
  return Object.freeze({ ...record.caller, claims: Object.freeze(JSON.parse(claims) as Record<string, unknown>) })
}

async function resolveJwt(jwt: string, opts: ResolveOptions): Promise<Caller> {
  const { caller } = await verifySignedJwt(jwt, opts.apps, opts, false)
  // A jti makes the JWT one-time: it must go through the token exchange's replay check.
  if (caller.jti !== undefined) {
    throw authError('jwt_bearer_has_jti', 'error verifying the jwt: a JWT with "jti" must be exchanged at /gateway/token')
  }
  return caller
}

async function readRecord(id: string, stores: BearerStores): Promise<BearerRecord | undefined> {
  const local = await stores.ephemeral.get(`bearer:${id}`)
  if (local !== undefined) return JSON.parse(local) as BearerRecord
  const stored = await stores.store.get(`bearer:${id}`)
  if (stored === undefined) return undefined
  try {
    return JSON.parse(stores.sealer === undefined ? stored : await stores.sealer.open(stored, `bearer:${id}`)) as BearerRecord
  } catch {
    // Unreadable (sealed with a retired key, or corrupt): as good as absent.
    return undefined
  }
}

async function seal(id: string, record: BearerRecord, stores: BearerStores): Promise<string> {
  const json = JSON.stringify(record)
  // The store key as AAD: a sealed record copied under another bearer's key does not open.
  return stores.sealer === undefined ? json : stores.sealer.seal(json, `bearer:${id}`)
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}
