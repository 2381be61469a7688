import type { JWTPayload } from 'jose'
import { authError } from './auth-failure.js'
import { identifierProblem, MAX_JTI, userIdProblem } from './user-id.js'

/** The app id of the caller admitted without credentials (`callers.required: false`, protected mode's local callers): no one authenticated it. */
export const OPEN_CALLER_ID = '-'

/**
 * Who is calling: the one caller type of the gateway (caller security, the pipeline and the
 * dance). Every caller has an app; the end user and the assertion facts are present when a
 * JWT or JWE asserted them (toCaller), absent for an app known only by its client
 * certificate and for the open caller of a gateway without `callers`.
 */
export interface Caller {
  readonly appId: string
  /** All claims of the assertion, for authorization-field templates; never log them. */
  readonly claims: Readonly<Record<string, unknown>>
  /** The end user; selects the per-user OAuth token. */
  readonly sub?: string
  /** Anonymous users' entries never outlive callers.anonymousTtl. */
  readonly isAnonymous?: boolean
  /** An anonymous user id whose stored tokens move to `sub`. */
  readonly identityToMerge?: string
  readonly jti?: string
  /** Assertion expiry, seconds since the epoch. */
  readonly exp?: number
  /** The claims came out of a JWE, so they may be secrets (a PIN): sealed apart in the store. */
  readonly viaJwe?: boolean
}
/** A caller whose end user a verified JWT or JWE asserted (what toCaller builds). */
export interface AssertedCaller extends Caller {
  readonly sub: string
  readonly isAnonymous: boolean
  readonly exp: number
  readonly viaJwe: boolean
}

const PREFIX = 'error verifying the jwt: '

/**
 * Refuses an identity claim that is not a user id (user-id.ts), and a jti that is not one of at
 * most MAX_JTI characters (a replay-store key: unbounded, a 48 KB jti was a
 * 48 KB Redis key). An unpaired surrogate cannot be URI-encoded into a token key (the dance and
 * every per-user call failed with 500), and stores write it as UTF-8 with U+FFFD in place, so jtis
 * "\uD800" and "\uDC00" were one.
 */
function checkClaim(claim: string, value: string, problem: (v: string) => string | undefined): void {
  const why = problem(value)
  if (why !== undefined) throw authError('malformed', `${PREFIX}"${claim}" claim ${why}`)
}

/** Builds a Caller from verified claims, refusing identity claims of the wrong type. */
export function toCaller(appId: string, payload: JWTPayload, viaJwe: boolean): AssertedCaller {
  const { sub, jti, exp } = payload
  if (sub === undefined) throw authError('missing_sub', `${PREFIX}"sub" claim is missing`)
  if (typeof sub !== 'string' || sub === '') {
    throw authError('missing_sub', `${PREFIX}"sub" claim must be a non-empty string`)
  }
  if (jti !== undefined && (typeof jti !== 'string' || jti === '')) {
    throw authError('malformed', `${PREFIX}"jti" claim must be a non-empty string`)
  }
  // JSON's 1e400 parses as Infinity: an assertion that never expires, and `null` once a bearer record is written.
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw authError('malformed', `${PREFIX}"exp" claim must be a finite number`)
  const anon = payload['isAnonymous']
  if (anon !== undefined && typeof anon !== 'boolean') {
    throw authError('malformed', `${PREFIX}"isAnonymous" claim must be a boolean`)
  }
  const merge = payload['identityToMerge']
  if (merge !== undefined && (typeof merge !== 'string' || merge === '')) {
    throw authError('malformed', `${PREFIX}"identityToMerge" claim must be a non-empty string`)
  }
  checkClaim('sub', sub, userIdProblem)
  if (jti !== undefined) checkClaim('jti', jti, (v) => identifierProblem(v, MAX_JTI))
  if (merge !== undefined) checkClaim('identityToMerge', merge, userIdProblem)
  // Merging into an anonymous user would move tokens to an identity that is never persisted.
  if (merge !== undefined && anon === true) {
    throw authError('malformed', `${PREFIX}"identityToMerge" is not allowed with "isAnonymous": true`)
  }
  return Object.freeze({
    appId,
    sub,
    isAnonymous: anon === true,
    ...(merge !== undefined ? { identityToMerge: merge } : {}),
    // Object.fromEntries, not Object.assign: assigning a claim `__proto__` would set the prototype (an object
    // the JWT chose, read through by every lookup) instead of keeping the claim.
    claims: Object.freeze(Object.fromEntries(Object.entries(payload))),
    ...(jti !== undefined ? { jti } : {}),
    exp,
    viaJwe,
  })
}
