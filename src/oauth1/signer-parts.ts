/**
 * What a signer keeps for its life (sign.ts makes it) and the steps both of its ways take
 * (sign.ts the general one, sign-prepared.ts a static token's): protocol parameters, query, signature.
 */
import { addFormParameters } from './base-string.js'
import type { PreparedToken } from './prepared-token.js'
import { addProtocolParameters, type ProtocolStatics } from './protocol-parameters.js'
import type { SignableUrl, SignerStatics, SignRequestInput } from './sign-input.js'
import { computeSignature } from './signature.js'
import type { SigningKeyOf } from './signing-key.js'

/** What a signer keeps for its life: the statics, their encodings, and what repeats across requests. */
export interface SignerParts extends ProtocolStatics {
  readonly statics: SignerStatics
  readonly encConsumerKey: string | undefined
  readonly realm: string | undefined
  readonly signingKeyOf: SigningKeyOf
  // The origin (`scheme://host[:port]`), path and token repeat from request to request.
  readonly encOrigin: (protocol: string, host: string) => string
  readonly encPath: (s: string) => string
  readonly encToken: (s: string) => string
  /** Whether requests without callback, verifier, extensions or form body take prepared-token.ts's way (off: the general one, for tests). */
  readonly preparing: boolean
  /** The last token's prepared protocol parameters. */
  prepared: PreparedToken | undefined
  /** The token of the request before (null: none yet): a token is prepared when it signs twice in a row. */
  previousToken: string | undefined | null
}

/** §3.1: the request's protocol parameters before any extension parameters, decoded, and the encodings known already. */
export function protocolParameters(s: SignerParts, r: SignRequestInput, formBody: boolean): { p: Record<string, string>; enc: (string | undefined)[] } {
  const p: Record<string, string> = { oauth_consumer_key: s.statics.consumerKey }
  const enc: (string | undefined)[] = [s.encConsumerKey]
  addProtocolParameters(p, enc, r, s, formBody)
  return { p, enc }
}

/** The URL's query parameters as the base string takes them (encoded, in order), once its scheme is one OAuth 1.0 signs. */
export function queryParameters(url: SignableUrl): { names: string[]; values: string[] } {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`OAuth 1.0 signs http and https requests only, not "${url.protocol}"`)
  }
  const names: string[] = []
  const values: string[] = []
  const search = url.search
  if (search.length > 1) addFormParameters(search.slice(1), names, values)
  return { names, values }
}

/** §3.4: the signature over the base string. */
export function signatureOf(s: SignerParts, r: SignRequestInput, baseString: string): string {
  const { statics } = s
  return computeSignature(statics.signatureMethod, baseString, { consumerSecret: statics.consumerSecret, tokenSecret: r.tokenSecret, privateKey: statics.privateKey }, s.signingKeyOf(r.tokenSecret))
}
