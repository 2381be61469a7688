/**
 * Rules on a caller JWT's time claims besides jose's `exp`/`nbf` checks: a number no date holds is
 * malformed, and how long an assertion may live (`exp` − `iat`): an hour with a `jti`
 * (PRODUCT.md), the operator's `jwtMaxLifetime` without one.
 */
import type { JWTPayload } from 'jose'
import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import type { AssertedCaller } from './caller.js'

/** PRODUCT.md's fixed text for a `jti` assertion living longer than an hour. */
export const JTI_EXP_TOO_LONG = 'error verifying the jwt: if "jti" claim "exp" must be <= 1 hour(s)'

const PREFIX = 'error verifying the jwt: '
const MAX_JTI_LIFETIME_SEC = 3600
/** Seconds since the epoch of JavaScript's last date (8.64e15 ms, in the year 275760). */
const LAST_DATE_SEC = 8.64e12

/**
 * Refuses a numeric time claim no date holds: an `exp` of 1e308 made a jti-less JWT used as the
 * bearer a credential that never expires (a non-number is left to jose, which says so).
 */
export function checkTimeClaims(payload: JWTPayload): void {
  for (const claim of ['exp', 'iat', 'nbf'] as const) {
    const v = payload[claim]
    if (typeof v !== 'number' || Math.abs(v) <= LAST_DATE_SEC) continue
    // JSON's 1e400 parses as Infinity.
    if (!Number.isFinite(v)) throw authError('malformed', `${PREFIX}"${claim}" claim must be a finite number`)
    throw authError('malformed', `${PREFIX}"${claim}" claim must be a number of seconds within ±${LAST_DATE_SEC} (the dates JavaScript holds, up to the year 275760)`)
  }
}

/** Refuses an assertion living longer than its kind may: `exp` − `iat` past an hour with a `jti`, past the app's jwtMaxLifetime without. */
export function checkLifetime(app: CallerApp, caller: AssertedCaller, iat: number): void {
  if (caller.jti !== undefined && caller.exp - iat > MAX_JTI_LIFETIME_SEC) throw authError('jti_exp_too_long', JTI_EXP_TOO_LONG)
  // Without a jti nothing is a replay: the operator's ceiling is all that ends such a credential early.
  if (caller.jti === undefined && app.jwtMaxLifetimeSec !== undefined && caller.exp - iat > app.jwtMaxLifetimeSec) {
    throw authError('jwt_lifetime_too_long', `${PREFIX}without "jti" claim "exp" must be <= ${app.jwtMaxLifetimeSec} second(s) after "iat" (jwtMaxLifetime)`)
  }
}
