/**
 * Signs one HTTP request per RFC 5849 §3.1–3.5 and says where the protocol parameters go.
 * Pure apart from the nonce and clock, which callers can fix for tests and the CLI.
 */
import { GatewayError } from '../errors.js'
import { addFormParameters, encodedNormalizedParameters } from './base-string.js'
import { encodedOrLater, isFormContentType, lastEncoding, lastOriginEncoding, percentEncode } from './percent-encode.js'
import { prependForm, authorizationHeader, bodyText, encodedSignature, quotedRealm } from './placement.js'
import { addExtraOAuthParams, addProtocolParameters, currentTimestamp, encodeProtocolParameters, newNonce, type ProtocolStatics } from './protocol-parameters.js'
import { prepareToken, preparedHeader, preparedParameters, type PreparedToken } from './prepared-token.js'
import { PreparedHeaderResult } from './prepared-result.js'
import type { Placement, SignableUrl, SignInput, SignResult, Signer, SignerStatics, SignRequestInput } from './sign-input.js'
import { computeSignature } from './signature.js'
import { createSigningKeyCache, type SigningKeyOf } from './signing-key.js'

export { PLACEMENTS } from './sign-input.js'
export type { Placement, SignableUrl, SignInput, SignResult, Signer, SignerStatics, SignRequestInput }


/** What a signer keeps for its life: the statics, their encodings, and what repeats across requests. */
interface SignerParts extends ProtocolStatics {
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

/**
 * Precomputes what is the same on every request of one profile (encoded consumer key,
 * signature method and consumer secret, the quoted realm) and remembers the last token's
 * encodings, so a request encodes only what is its own.
 */
export function createSigner(statics: SignerStatics, prepare = true): Signer {
  const encConsumerKey = encodedOrLater(statics.consumerKey)
  const encSignatureMethod = encodedOrLater(statics.signatureMethod)
  const s: SignerParts = {
    statics,
    encConsumerKey,
    encSignatureMethod,
    realm: statics.realm === undefined ? undefined : quotedRealm(statics.realm),
    signingKeyOf: createSigningKeyCache(statics),
    encOrigin: lastOriginEncoding(),
    encPath: lastEncoding(),
    encToken: lastEncoding(),
    // A body hash is each request's own, and a key or method percentEncode refuses is refused where it always was.
    preparing: prepare && statics.bodyHash !== true && encConsumerKey !== undefined && encSignatureMethod !== undefined,
    prepared: undefined,
    previousToken: null,
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
  if (s.preparing && r.callback === undefined && r.verifier === undefined && r.extraOAuthParams === undefined && !(r.body !== undefined && formBody) && preparedFor(s, r.token)) return signPrepared(s, r, url)
  // §3.1 protocol parameters in transmission order (decoded); `enc` holds the encodings known
  // already (undefined: encoded below, after the URL check, where it always was).
  const { p, enc } = protocolParameters(s, r, formBody)
  const known = enc.length // the names so far are the signer's own, all unreserved
  if (r.extraOAuthParams !== undefined) addExtraOAuthParams(p, enc, r.extraOAuthParams)
  // §3.4.1.3.1: query, protocol and form-body parameters, encoded (§3.4.1.3.2).
  const { names, values } = queryParameters(url)
  const protocolNames = encodeProtocolParameters(p, enc, known, s.encToken, names, values)
  if (r.body !== undefined && formBody) addFormParameters(bodyText(r.body), names, values)
  // §3.4.1: METHOD&enc(base string URI)&enc(normalized parameters); see baseStringUri for the URI.
  // Encoding works per character, so the origin (ASCII) and the path may be encoded apart.
  const baseString = `${percentEncode(r.method.toUpperCase())}&${s.encOrigin(url.protocol, url.host)}${s.encPath(url.pathname)}&${encodedNormalizedParameters(names, values)}`
  return signedResult(s, r, url, baseString, p, protocolNames, enc as string[])
}

/** §3.1: the request's protocol parameters before any extension parameters, decoded, and the encodings known already. */
function protocolParameters(s: SignerParts, r: SignRequestInput, formBody: boolean): { p: Record<string, string>; enc: (string | undefined)[] } {
  const p: Record<string, string> = { oauth_consumer_key: s.statics.consumerKey }
  const enc: (string | undefined)[] = [s.encConsumerKey]
  addProtocolParameters(p, enc, r, s, formBody)
  return { p, enc }
}

/** The URL's query parameters as the base string takes them (encoded, in order), once its scheme is one OAuth 1.0 signs. */
function queryParameters(url: SignableUrl): { names: string[]; values: string[] } {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`OAuth 1.0 signs http and https requests only, not "${url.protocol}"`)
  }
  const names: string[] = []
  const values: string[] = []
  const search = url.search
  if (search.length > 1) addFormParameters(search.slice(1), names, values)
  return { names, values }
}

/**
 * Whether this token's request takes the prepared way: preparing costs more than signing once, so
 * a token is prepared when it signs a second time in a row (a static token), not for a one-off
 * signature or users' tokens taking turns.
 */
function preparedFor(s: SignerParts, token: string | undefined): boolean {
  if (s.prepared !== undefined && s.prepared.token === token) return true
  const again = s.previousToken === token
  s.previousToken = token
  return again
}

/**
 * signWith for the common request: the protocol parameters of the token prepared once
 * (prepared-token.ts), the timestamp and nonce, and the query; the same result, checks in the same order.
 */
function signPrepared(s: SignerParts, r: SignRequestInput, url: SignableUrl): SignResult {
  const { statics } = s
  const { names, values } = queryParameters(url)
  let t = s.prepared
  let timestamp: string
  let nonce: string
  if (t === undefined || t.token !== r.token) {
    // Encoded as the general way encodes them (a token percentEncode refuses throws here, as there).
    const { p, enc } = protocolParameters(s, r, false)
    const encoded = [...enc]
    t = s.prepared = prepareToken(r.token, p, encodeProtocolParameters(p, encoded, enc.length, s.encToken, [], []), encoded as string[], s.realm)
    timestamp = p.oauth_timestamp as string
    nonce = p.oauth_nonce as string
  } else {
    timestamp = r.timestamp ?? currentTimestamp()
    nonce = r.nonce ?? newNonce()
  }
  // Generated ones are unreserved (their own encoding); given ones are encoded.
  const encTimestamp = r.timestamp === undefined ? timestamp : percentEncode(timestamp)
  const encNonce = r.nonce === undefined ? nonce : percentEncode(nonce)
  const baseString = `${percentEncode(r.method.toUpperCase())}&${s.encOrigin(url.protocol, url.host)}${s.encPath(url.pathname)}&${preparedParameters(t, encTimestamp, encNonce, names, values)}`
  if (statics.placement !== 'header') {
    // The prepared decoded parameters in their order, this request's values in place.
    const p: Record<string, string> = Object.assign({}, t.decoded)
    p.oauth_timestamp = timestamp
    p.oauth_nonce = nonce
    const protocolValues = t.values.map((v, k) => (k === t.timestampAt ? encTimestamp : k === t.timestampAt + 1 ? encNonce : v))
    return signedResult(s, r, url, baseString, p, [...t.names], protocolValues)
  }
  const signature = signatureOf(s, r, baseString)
  const authorizationHeader = preparedHeader(t, encTimestamp, encNonce, encodedSignature(statics.signatureMethod, signature))
  return new PreparedHeaderResult(baseString, signature, authorizationHeader, url.href, t.decoded, timestamp, nonce)
}

/** §3.4: the signature over the base string. */
function signatureOf(s: SignerParts, r: SignRequestInput, baseString: string): string {
  const { statics } = s
  return computeSignature(statics.signatureMethod, baseString, { consumerSecret: statics.consumerSecret, tokenSecret: r.tokenSecret, privateKey: statics.privateKey }, s.signingKeyOf(r.tokenSecret))
}

/** §3.4 signature over the base string, then §3.5: the protocol parameters (encoded) placed as configured. */
function signedResult(s: SignerParts, r: SignRequestInput, url: SignableUrl, baseString: string, p: Record<string, string>, protocolNames: string[], protocolValues: string[]): SignResult {
  const { statics } = s
  const signature = signatureOf(s, r, baseString)
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
