/**
 * Signs one HTTP request per RFC 5849 §3.1–3.5 and says where the protocol parameters go.
 * Pure apart from the nonce and clock, which callers can fix for tests and the CLI.
 */
import type { KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { addFormParameters, encodedNormalizedParameters } from './base-string.js'
import { encodedOrLater, isFormContentType, lastEncoding, percentEncode } from './percent-encode.js'
import { prependForm, authorizationHeader, bodyText, encodedSignature, quotedRealm } from './placement.js'
import { addExtraOAuthParams, addProtocolParameters, encodeProtocolParameters, type ProtocolStatics } from './protocol-parameters.js'
import { computeSignature, type SignatureMethod } from './signature.js'
import { createSigningKeyCache, type SigningKeyOf } from './signing-key.js'

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

/** The signed request's pieces. */
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

/** Signs requests for one set of statics; the same output as signRequest with those statics. */
export interface Signer {
  sign(request: SignRequestInput): SignResult
}

/** What a signer keeps for its life: the statics, their encodings, and what repeats across requests. */
interface SignerParts extends ProtocolStatics {
  readonly statics: SignerStatics
  readonly encConsumerKey: string | undefined
  readonly realm: string | undefined
  readonly signingKeyOf: SigningKeyOf
  // The origin (`scheme://host[:port]`), path and token repeat from request to request.
  readonly encOrigin: (s: string) => string
  readonly encPath: (s: string) => string
  readonly encToken: (s: string) => string
}

/**
 * Precomputes what is the same on every request of one profile (encoded consumer key,
 * signature method and consumer secret, the quoted realm) and remembers the last token's
 * encodings, so a request encodes only what is its own.
 */
export function createSigner(statics: SignerStatics): Signer {
  const s: SignerParts = {
    statics,
    encConsumerKey: encodedOrLater(statics.consumerKey),
    encSignatureMethod: encodedOrLater(statics.signatureMethod),
    realm: statics.realm === undefined ? undefined : quotedRealm(statics.realm),
    signingKeyOf: createSigningKeyCache(statics),
    encOrigin: lastEncoding(),
    encPath: lastEncoding(),
    encToken: lastEncoding(),
  }
  return { sign: (r) => signWith(s, r) }
}

/** One request: §3.1 protocol parameters, §3.4.1 base string, then signedResult. */
function signWith(s: SignerParts, r: SignRequestInput): SignResult {
  const { statics } = s
  const url = typeof r.url === 'string' ? new URL(r.url) : r.url.hash !== '' || statics.placement === 'query' ? new URL(r.url.href) : r.url
  if (url.hash !== '') url.hash = '' // never sent, never signed
  const formBody = isFormContentType(r.contentType)
  if (statics.placement === 'body' && !formBody) {
    throw new GatewayError('unsupported_payload', `OAuth parameters can go in the body only of an application/x-www-form-urlencoded request, not "${r.contentType ?? 'no content type'}"`)
  }
  // §3.1 protocol parameters in transmission order (decoded); `enc` holds the encodings known
  // already (undefined: encoded below, after the URL check, where it always was).
  const p: Record<string, string> = { oauth_consumer_key: statics.consumerKey }
  const enc: (string | undefined)[] = [s.encConsumerKey]
  addProtocolParameters(p, enc, r, s, formBody)
  const known = enc.length // the names so far are the signer's own, all unreserved
  if (r.extraOAuthParams !== undefined) addExtraOAuthParams(p, enc, r.extraOAuthParams)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`OAuth 1.0 signs http and https requests only, not "${url.protocol}"`)
  }
  // §3.4.1.3.1: query, protocol and form-body parameters, encoded (§3.4.1.3.2).
  const names: string[] = []
  const values: string[] = []
  const search = url.search
  if (search.length > 1) addFormParameters(search.slice(1), names, values)
  const protocolNames = encodeProtocolParameters(p, enc, known, s.encToken, names, values)
  if (r.body !== undefined && formBody) addFormParameters(bodyText(r.body), names, values)
  // §3.4.1: METHOD&enc(base string URI)&enc(normalized parameters); see baseStringUri for the URI.
  // Encoding works per character, so the origin (ASCII) and the path may be encoded apart.
  const baseString = `${percentEncode(r.method.toUpperCase())}&${s.encOrigin(`${url.protocol}//${url.host}`)}${s.encPath(url.pathname)}&${encodedNormalizedParameters(names, values)}`
  return signedResult(s, r, url, baseString, p, protocolNames, enc as string[])
}

/** §3.4 signature over the base string, then §3.5: the protocol parameters (encoded) placed as configured. */
function signedResult(s: SignerParts, r: SignRequestInput, url: SignableUrl, baseString: string, p: Record<string, string>, protocolNames: string[], protocolValues: string[]): SignResult {
  const { statics } = s
  const signature = computeSignature(statics.signatureMethod, baseString, { consumerSecret: statics.consumerSecret, tokenSecret: r.tokenSecret, privateKey: statics.privateKey }, s.signingKeyOf(r.tokenSecret))
  p.oauth_signature = signature
  const oauthParams: Readonly<Record<string, string>> = Object.freeze(p)
  protocolNames.push('oauth_signature')
  protocolValues.push(encodedSignature(statics.signatureMethod, signature))
  switch (statics.placement) {
    case 'header':
      return { baseString, signature, oauthParams, authorizationHeader: authorizationHeader(s.realm, protocolNames, protocolValues), url: url.href }
    case 'query': {
      // signWith parsed its own copy for query placement: the instanceof only satisfies the type.
      const queryUrl = url instanceof URL ? url : new URL(url.href)
      queryUrl.search = prependForm(queryUrl.search.slice(1), protocolNames, protocolValues)
      return { baseString, signature, oauthParams, url: queryUrl.href, queryUrl }
    }
    case 'body':
      return { baseString, signature, oauthParams, url: url.href, body: prependForm(bodyText(r.body), protocolNames, protocolValues) }
    default:
      throw new TypeError(`unknown OAuth parameter placement ${String(statics.placement)}`)
  }
}

/** Signs a request; throws TypeError on misuse, GatewayError('unsupported_payload') for body placement of a non-form body. */
export function signRequest(input: SignInput): SignResult {
  return createSigner(input).sign(input)
}
