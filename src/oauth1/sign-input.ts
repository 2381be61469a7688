/**
 * What the signer takes and gives: a request to sign, the statics one profile signs every request with,
 * and the signed pieces (sign.ts signs).
 */
import type { KeyObject } from 'node:crypto'
import type { SignatureMethod } from './signature.js'

/** Where the protocol parameters travel: §3.5.1 header, §3.5.2 form body, §3.5.3 query. */
export type Placement = 'header' | 'query' | 'body'

/** Every Placement, for CLI choices and config validation. */
export const PLACEMENTS: readonly Placement[] = ['header', 'query', 'body']

/** What to sign and with which credentials. */
export interface SignInput {
  method: string
  /** A URL object is used as is (not copied) unless signing must change it (a fragment, query placement). */
  url: string | URL
  /** Content-Type of the body; form-encoded bodies are signed as parameters (§3.4.1.3.1). */
  contentType?: string
  body?: Buffer | string
  consumerKey: string
  /** Required for HMAC-* and PLAINTEXT; unused by RSA-*. */
  consumerSecret?: string
  token?: string
  tokenSecret?: string
  signatureMethod: SignatureMethod
  /** PEM string or KeyObject; required for RSA-*. */
  privateKey?: KeyObject | string
  /** Header-only attribute (§3.5.1); not signed, and dropped for query and body placement. */
  realm?: string
  /** `oauth_callback` (§2.1); use `oob` for out-of-band. */
  callback?: string
  /** `oauth_verifier` (§2.3). */
  verifier?: string
  /** Further `oauth_*` protocol parameters; must not repeat one the signer sets. */
  extraOAuthParams?: Record<string, string>
  /** Adds `oauth_version=1.0` (optional per §3.1; some providers insist on it). */
  includeVersion?: boolean
  /** Adds `oauth_body_hash` (body-hash draft) unless the body is form-encoded. */
  bodyHash?: boolean
  placement: Placement
  /** Fixed nonce; by default 12 random bytes as 24 hex digits. */
  nonce?: string
  /** Fixed timestamp (decimal seconds); by default the current Unix time. */
  timestamp?: string
}

/** The signed request's pieces, each an own property of a plain object (spread and JSON keep them all). */
export interface SignResult {
  baseString: string
  signature: string
  /** Protocol parameters in transmission order, `oauth_signature` last; realm not included. */
  oauthParams: Readonly<Record<string, string>>
  /** For header placement: the full `Authorization` header value. */
  authorizationHeader?: string
  /** The request URL to send: for query placement with the protocol parameters first in the query. */
  url: string
  /** For query placement: that URL as the object the signer added them to (its own copy), so a caller needs no second parse. */
  queryUrl?: URL
  /** For body placement: the form body to send, protocol parameters first. */
  body?: string
}

/** What one profile signs every request with: fixed for the signer's life. */
export type SignerStatics = Pick<SignInput, 'consumerKey' | 'consumerSecret' | 'signatureMethod' | 'privateKey' | 'realm' | 'includeVersion' | 'bodyHash' | 'placement'>

/** What changes from request to request. */
export type SignRequestInput = Omit<SignInput, keyof SignerStatics | 'url'> & {
  /** As SignInput's, or just the parts signing reads (the proxy's outbound URL before anything parsed it). */
  url: string | SignableUrl
}

/** The parts of a URL a signer reads; a URL is one. With a fragment or for query placement the signer parses `href`. */
export type SignableUrl = Pick<URL, 'protocol' | 'host' | 'pathname' | 'search' | 'hash' | 'href'>

/**
 * What the proxy puts on the request it sends, and no more: for header placement the header, for query
 * placement the URL, for body placement the body (each as in SignResult). It has no protocol parameters,
 * base string or signature, so there is nothing a copy of it could lose.
 */
export interface SignatureToSend {
  readonly authorizationHeader?: string
  readonly queryUrl?: URL
  readonly body?: string
}

/** Signs requests for one set of statics; the same output as signRequest with those statics. */
export interface Signer {
  sign(request: SignRequestInput): SignResult
  /** The same signature as `sign`, only what is sent: a static token's costs no protocol parameter object. */
  signToSend(request: SignRequestInput): SignatureToSend
}
