/**
 * The result of a prepared token's header signature, its protocol parameters made only when read
 * (the proxy reads the header alone).
 */
import type { SignResult } from './sign-input.js'

/**
 * A prepared token's header signature (sign.ts signPrepared): its protocol parameters (oauthParams, the
 * same frozen object in the same order) are made when first read. The proxy reads only the header; the
 * copy and freeze cost about 2,000 instructions a signature, 7 % of one (docs/performance.md, session 51).
 */
export class PreparedHeaderResult implements SignResult {
  #oauthParams: Readonly<Record<string, string>> | undefined
  readonly #decoded: Readonly<Record<string, string>>
  readonly #timestamp: string
  readonly #nonce: string

  constructor(readonly baseString: string, readonly signature: string, readonly authorizationHeader: string, readonly url: string, decoded: Readonly<Record<string, string>>, timestamp: string, nonce: string) {
    this.#decoded = decoded
    this.#timestamp = timestamp
    this.#nonce = nonce
  }

  get oauthParams(): Readonly<Record<string, string>> {
    if (this.#oauthParams !== undefined) return this.#oauthParams
    // The prepared decoded parameters in their order, this request's values in place.
    const p: Record<string, string> = Object.assign({}, this.#decoded)
    p.oauth_timestamp = this.#timestamp
    p.oauth_nonce = this.#nonce
    p.oauth_signature = this.signature
    return (this.#oauthParams = Object.freeze(p))
  }
}
