import type { GatewayKeys } from './keys.js'

/** The public half of a gateway decryption key, as published. */
export interface PublicJwk {
  readonly kty: 'RSA'
  readonly n: string
  readonly e: string
  readonly kid: string
  readonly use: 'enc'
  readonly alg: 'RSA-OAEP'
}

/** The body of `GET /gateway/jwks.json`: public parts only, so callers can encrypt to the gateway. */
export function publicJwks(keys: GatewayKeys): { keys: PublicJwk[] } {
  const out: PublicJwk[] = []
  for (const key of keys.values()) {
    // Export from the public KeyObject so no private member (d, p, q…) can slip in.
    const { n, e } = key.publicKey.export({ format: 'jwk' })
    if (typeof n !== 'string' || typeof e !== 'string') continue
    // RSA-OAEP is advertised because RSA1_5 is only a per-app, opt-in fallback.
    out.push({ kty: 'RSA', n, e, kid: key.kid, use: 'enc', alg: 'RSA-OAEP' })
  }
  return { keys: out }
}
