import type { errors as JoseErrors, JWTPayload } from 'jose'
import type { GatewayError } from '../errors.js'
import type { Store } from '../store/index.js'
import type { CallerApp } from './apps.js'
import { resolveClaimAliases } from './claim-aliases.js'
import { authError } from './auth-failure.js'
import { toCaller, type AssertedCaller } from './caller.js'
import { jose, type Jose } from './jose.js'
import { CANONICAL_PARTS, isCanonicalCompact } from './compact.js'
import { refuseRepeatedMembers } from './repeated-members.js'
import { checkLifetime, checkTimeClaims } from './time-claims.js'
import { consumeJti } from './jti.js'

export { JTI_EXP_TOO_LONG } from './time-claims.js'
export { JTI_RETENTION_FLOOR_SEC, JWT_REPLAY } from './jti.js'

const PREFIX = 'error verifying the jwt: '

/** Options of JWT verification. */
export interface VerifyOptions {
  /** Tolerance for `iat`/`exp`/`nbf`, seconds. */
  clockSkewSec: number
  /** Shared replay cache; required as soon as an assertion carries a `jti`. */
  replay?: Store
  /** Milliseconds since the epoch (tests); defaults to Date.now. */
  now?: () => number
  /** `callers.claimAliasPrefix`: `<prefix>jti|iss|sub` win over `jti|iss|sub`; empty: off. */
  claimAliasPrefix: string
}

/** A signature-checked JWT before its `jti` is consumed. */
export interface VerifiedJwt {
  readonly app: CallerApp
  readonly caller: AssertedCaller
}

/** Verifies a JWT assertion and consumes its `jti`: the whole rule set of PRODUCT.md. */
export async function verifyAssertion(
  jwt: string,
  apps: ReadonlyMap<string, CallerApp>,
  opts: VerifyOptions,
): Promise<AssertedCaller> {
  const { caller } = await verifySignedJwt(jwt, apps, opts, false)
  await consumeJti(caller, jwt, opts)
  return caller
}

/** Every rule except replay: split out so JWE policy can refuse before a `jti` is spent. */
export async function verifySignedJwt(
  jwt: string,
  apps: ReadonlyMap<string, CallerApp>,
  opts: VerifyOptions,
  viaJwe: boolean,
): Promise<VerifiedJwt> {
  const aliasPrefix = opts.claimAliasPrefix ?? ''
  if (!isCanonicalCompact(jwt)) throw authError('malformed', `${PREFIX}not a well-formed JWT (${CANONICAL_PARTS})`)
  const [header = '', claimsSet = ''] = jwt.split('.')
  refuseRepeatedMembers(header, 'its header', PREFIX, 'RFC 7515, section 4')
  refuseRepeatedMembers(claimsSet, 'its claims set', PREFIX, 'RFC 7519, section 4')
  const j = await jose()
  const unverified = decodeClaims(j, jwt, aliasPrefix)
  checkTimeClaims(unverified)
  const app = findApp(unverified.iss, apps)
  const nowSec = Math.floor((opts.now ?? Date.now)() / 1000)
  const payload: JWTPayload = await j.jwtVerify(jwt, app.key, {
    // Only the app's own algorithm, with a key of the matching type: no `none`, no HS256-with-a-public-key.
    algorithms: [app.alg],
    // `iss` and `sub` may come from their aliases, so they are checked on the resolved claims.
    audience: app.audience,
    clockTolerance: opts.clockSkewSec,
    currentDate: new Date(nowSec * 1000),
    requiredClaims: ['iat', 'exp'],
  }).then(
    (r) => resolveClaimAliases(r.payload, aliasPrefix),
    (e: unknown) => {
      throw fromJoseError(j, e, app, jwt)
    },
  )
  // jose checks `iat` only together with maxTokenAge, which would also cap the age; check it here.
  if (typeof payload.iat !== 'number' || payload.iat > nowSec + opts.clockSkewSec) {
    throw authError('not_yet_valid', `${PREFIX}"iat" claim is in the future (beyond ${opts.clockSkewSec}s clock skew)`)
  }
  // The app was found by this `iss`; checked again so the rule stands on the verified claims.
  if (payload.iss !== app.clientId) throw authError('bad_issuer', `${PREFIX}"iss" claim must be "${app.clientId}"`)
  const caller = toCaller(app.clientId, payload, viaJwe)
  checkLifetime(app, caller, payload.iat)
  return { app, caller }
}

/** The claims before the signature is checked: the issuer picks the key it is checked with. */
function decodeClaims(j: Jose, jwt: string, aliasPrefix: string): JWTPayload {
  try {
    return resolveClaimAliases(j.decodeJwt(jwt), aliasPrefix)
  } catch (e) {
    throw authError('malformed', `${PREFIX}not a well-formed JWT`, { cause: e })
  }
}

function findApp(iss: unknown, apps: ReadonlyMap<string, CallerApp>): CallerApp {
  if (iss === undefined) throw authError('bad_issuer', `${PREFIX}"iss" claim is missing`)
  if (typeof iss !== 'string') throw authError('bad_issuer', `${PREFIX}"iss" claim must be a string (it is ${jsonType(iss)})`)
  const app = apps.get(iss)
  if (app === undefined) throw authError('bad_issuer', `${PREFIX}"iss" names no registered caller app`)
  return app
}

/** The JSON type of a claim's value, never the value itself. */
function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

function fromJoseError(j: Jose, e: unknown, app: CallerApp, jwt: string): GatewayError {
  const { errors } = j
  const cause = { cause: e }
  if (e instanceof errors.JOSEAlgNotAllowed) {
    return authError('alg_not_allowed', `${PREFIX}algorithm ${algOf(j, jwt)} is not allowed for app "${app.clientId}" (expects ${app.alg})`, cause)
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return authError('bad_signature', `${PREFIX}signature verification failed`, cause)
  }
  if (e instanceof errors.JWTExpired) {
    return authError('expired', `${PREFIX}token expired ("exp" is in the past)`, cause)
  }
  if (e instanceof errors.JWTClaimValidationFailed) return fromClaimError(e, app)
  return authError('malformed', `${PREFIX}not a well-formed JWT`, cause)
}

function fromClaimError(e: JoseErrors.JWTClaimValidationFailed, app: CallerApp): GatewayError {
  const cause = { cause: e }
  switch (e.claim) {
    case 'aud':
      return authError('bad_audience', `${PREFIX}"aud" claim must name "${app.audience}"`, cause)
    case 'nbf':
      // Only a number in the future is "not valid yet"; `"nbf": null` is malformed, as jose says.
      if (e.reason !== 'check_failed') return authError('malformed', `${PREFIX}${e.message}`, cause)
      return authError('not_yet_valid', `${PREFIX}token not valid yet ("nbf" is in the future)`, cause)
    default:
      // jose's messages name the claim and never echo its value.
      return authError('malformed', `${PREFIX}${e.message}`, cause)
  }
}

// Names the offending algorithm without echoing arbitrary header text back to the caller.
function algOf(j: Jose, jwt: string): string {
  const KNOWN = ['none', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
  try {
    const { alg } = j.decodeProtectedHeader(jwt)
    return typeof alg === 'string' && KNOWN.includes(alg) ? `"${alg}"` : '(unsupported)'
  } catch {
    return '(unreadable)'
  }
}
