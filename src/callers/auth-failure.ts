import { GatewayError, isGatewayError, type Reason } from '../errors.js'

/**
 * Why a caller was refused, as a metric label (snake_case, closed set, never user data).
 * Kept apart from the GatewayError body: `details` are sent to the caller, and the label is
 * for the `caller auth failures by reason` counter only.
 */
export type AuthFailure =
  | 'missing'
  /** A Proxy-Authorization (or the gateway's Authorization) that holds no usable bearer. */
  | 'malformed_credential'
  | 'malformed'
  | 'bad_issuer'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_audience'
  | 'missing_sub'
  | 'jti_exp_too_long'
  /** A JWT without `jti` living longer than callers.jwtMaxLifetime (or its app's). */
  | 'jwt_lifetime_too_long'
  | 'replay'
  | 'jwe_unknown_kid'
  | 'jwe_alg_not_allowed'
  | 'jwe_decrypt_failed'
  | 'jwt_bearer_has_jti'
  | 'jwt_bearer_has_identity_to_merge'
  | 'bearer_unknown'
  | 'bearer_claims_unavailable'
  | 'app_not_configured'
  | 'app_key_changed'
  | 'app_audience_changed'
  | 'app_rsa15_disallowed'
  | 'claim_alias_prefix_changed'
  | 'bearer_ttl_shortened'
  | 'not_allowed'
  | 'invalid'
  | 'certificate_required'
  /** An address past its wrong admin tokens this minute (the error admin_token_throttled). */
  | 'admin_token_throttled'
  /** An address past its failed token exchanges this minute (the error token_exchange_throttled). */
  | 'token_exchange_throttled'

// A WeakMap instead of a property so the label can never leak into a serialized error body.
const labels = new WeakMap<GatewayError, AuthFailure>()

/** Builds a caller-credential GatewayError carrying its metric label. */
export function authError(
  label: AuthFailure,
  message: string,
  options: { reason?: Reason; cause?: unknown } = {},
): GatewayError {
  const err = new GatewayError(options.reason ?? 'caller_credentials_invalid', message, { cause: options.cause })
  labels.set(err, label)
  return err
}

/** The metric label of a caller-auth failure, or undefined when `err` is not one. */
export function authFailureLabel(err: unknown): AuthFailure | undefined {
  if (!isGatewayError(err)) return undefined
  const label = labels.get(err)
  if (label !== undefined) return label
  switch (err.reason) {
    case 'caller_credentials_missing':
      return 'missing'
    case 'caller_credentials_invalid':
      return 'invalid'
    case 'caller_not_allowed':
      return 'not_allowed'
    case 'jwt_replay':
      return 'replay'
    case 'caller_certificate_required':
      return 'certificate_required'
    default:
      return undefined
  }
}
