import type { JWTPayload } from 'jose'

/**
 * The identity claims a client app may also write under an alias (`kore_jti`, `kore_iss`,
 * `kore_sub` with the default prefix): SDKs pre-populate `jti`/`iss`/`sub`, and the alias
 * is how the app overrides them without fighting its SDK.
 */
export const ALIASED_CLAIMS = ['jti', 'iss', 'sub'] as const

/**
 * The claims with every present alias in place of its claim: the one place aliases are
 * read. An empty prefix turns aliases off. The alias keys themselves stay (templates may
 * name them).
 */
export function resolveClaimAliases(payload: JWTPayload, prefix: string): JWTPayload {
  if (prefix === '') return payload
  let out: Record<string, unknown> | undefined
  for (const claim of ALIASED_CLAIMS) {
    const alias = payload[`${prefix}${claim}`]
    if (alias === undefined) continue
    out ??= Object.fromEntries(Object.entries(payload)) // as toCaller copies: a `__proto__` claim stays a claim
    out[claim] = alias
  }
  // Typed checks of the aliased values follow in toCaller, as for the claims themselves.
  return (out as JWTPayload | undefined) ?? payload
}
