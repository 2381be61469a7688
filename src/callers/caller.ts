import type { JWTPayload } from 'jose'
import { authError } from './auth-failure.js'

/** An authenticated caller: the app, the end user it asserts, and every claim (for templates). */
export interface Caller {
  readonly appId: string
  /** The end user; selects the per-user OAuth token. */
  readonly sub: string
  /** Anonymous users' tokens and data are never persisted. */
  readonly isAnonymous: boolean
  /** An anonymous user id whose stored tokens move to `sub`. */
  readonly identityToMerge?: string
  /** All claims of the assertion, for authorization-field templates; never log them. */
  readonly claims: Readonly<Record<string, unknown>>
  readonly jti?: string
  /** Assertion expiry, seconds since the epoch. */
  readonly exp: number
  /** The claims came out of a JWE, so they may be secrets (a PIN): not persisted by default. */
  readonly viaJwe: boolean
}

const PREFIX = 'error verifying the jwt: '

/** Builds a Caller from verified claims, refusing identity claims of the wrong type. */
export function toCaller(appId: string, payload: JWTPayload, viaJwe: boolean): Caller {
  const { sub, jti, exp } = payload
  if (sub === undefined) throw authError('missing_sub', `${PREFIX}"sub" claim is missing`)
  if (typeof sub !== 'string' || sub === '') {
    throw authError('missing_sub', `${PREFIX}"sub" claim must be a non-empty string`)
  }
  if (jti !== undefined && (typeof jti !== 'string' || jti === '')) {
    throw authError('malformed', `${PREFIX}"jti" claim must be a non-empty string`)
  }
  if (typeof exp !== 'number') throw authError('malformed', `${PREFIX}"exp" claim must be a number`)
  const anon = payload['isAnonymous']
  if (anon !== undefined && typeof anon !== 'boolean') {
    throw authError('malformed', `${PREFIX}"isAnonymous" claim must be a boolean`)
  }
  const merge = payload['identityToMerge']
  if (merge !== undefined && (typeof merge !== 'string' || merge === '')) {
    throw authError('malformed', `${PREFIX}"identityToMerge" claim must be a non-empty string`)
  }
  // Merging into an anonymous user would move tokens to an identity that is never persisted.
  if (merge !== undefined && anon === true) {
    throw authError('malformed', `${PREFIX}"identityToMerge" is not allowed with "isAnonymous": true`)
  }
  return Object.freeze({
    appId,
    sub,
    isAnonymous: anon === true,
    ...(merge !== undefined && merge !== sub ? { identityToMerge: merge } : {}),
    claims: Object.freeze({ ...payload }),
    ...(jti !== undefined ? { jti } : {}),
    exp,
    viaJwe,
  })
}
