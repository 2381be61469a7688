/**
 * Reading a credential header (`Proxy-Authorization`, and `Authorization` where it is the
 * gateway's). A header that is present but holds no usable bearer is refused as such, never
 * read as "no credential": under `callers.required: false` that would serve a caller who tried
 * to authenticate as the open caller, and under `required: true` tell it that it sent nothing.
 */
import { authError } from './auth-failure.js'
import type { GatewayError } from '../errors.js'

/** What a credential header holds: its bearer token, or why it is unusable (never the value). */
export type PresentedCredential = { readonly token: string } | { readonly unusable: string }

// RFC 6750 §2.1 b64token (RFC 9110's token68): what every gateway bearer, JWT and JWE is spelled in.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/

/**
 * Reads `<name>: Bearer <token68>`; anything else is unusable, said without repeating the value.
 * `anyWord`: the token may be any run of non-blank characters, as `callers.adminToken` may be
 * (it is any string of 16 or more), where a caller's bearer, JWT or JWE is always a token68.
 */
export function readBearerHeader(name: string, value: string, anyWord = false): PresentedCredential {
  const m = /^(\S*)\s*(.*)$/s.exec(value.trim())
  const [scheme, rest] = [m?.[1] ?? '', m?.[2] ?? '']
  if (scheme.toLowerCase() !== 'bearer') return { unusable: `${name} must use the Bearer scheme: ${name}: Bearer <token>` }
  if (rest === '') return { unusable: `${name} carries no token after "Bearer"` }
  if (anyWord ? /\s/.test(rest) : !TOKEN68.test(rest)) return { unusable: `${name}'s token is not one bearer token (${anyWord ? 'no blanks' : 'letters, digits, "-._~+/", then "=" padding'})` }
  return { token: rest }
}

/** The refusal of an unusable credential: 401/407 caller_credentials_invalid, label `malformed_credential`. */
export function unusableCredential(c: { readonly unusable: string }): GatewayError {
  return authError('malformed_credential', `caller credential not usable: ${c.unusable}`)
}
