/**
 * Signs one HTTP request per RFC 5849 §3.1–3.5 and says where the protocol parameters go.
 * Pure apart from the nonce and clock, which callers can fix for tests and the CLI.
 */
import { GatewayError } from '../errors.js'
import { addFormParameters, encodedNormalizedParameters } from './base-string.js'
import { encodedOrLater, isFormContentType, lastEncoding, lastOriginEncoding, percentEncode } from './percent-encode.js'
import { authorizationHeader, bodyText, encodedSignature, formPairs, quotedRealm } from './placement.js'
import { addExtraOAuthParams, encodeProtocolParameters } from './protocol-parameters.js'
import { preparedFor, signPrepared } from './sign-prepared.js'
import type { Placement, SignableUrl, SignatureToSend, SignInput, SignResult, Signer, SignerStatics, SignRequestInput } from './sign-input.js'
import { signedResult, toSend } from './signed-result.js'
import { protocolParameters, queryParameters, signatureOf, type SignerParts } from './signer-parts.js'
import { createSigningKeyCache } from './signing-key.js'

export { PLACEMENTS } from './sign-input.js'
export type { Placement, SignableUrl, SignatureToSend, SignInput, SignResult, Signer, SignerStatics, SignRequestInput }

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
  return { sign: (r) => signWith(s, r, true), signToSend: (r) => signWith(s, r, false) }
}

/**
 * One request: §3.1 protocol parameters, §3.4.1 base string, §3.4 signature, §3.5 placement. `whole`:
 * the SignResult; otherwise only what is sent, so a static token's signature makes no protocol parameter object.
 */
function signWith(s: SignerParts, r: SignRequestInput, whole: true): SignResult
function signWith(s: SignerParts, r: SignRequestInput, whole: false): SignatureToSend
function signWith(s: SignerParts, r: SignRequestInput, whole: boolean): SignResult | SignatureToSend {
  const { statics } = s
  const url = typeof r.url === 'string' ? new URL(r.url) : r.url.hash !== '' || statics.placement === 'query' ? new URL(r.url.href) : r.url
  if (url.hash !== '') url.hash = '' // never sent, never signed
  const formBody = isFormContentType(r.contentType)
  if (statics.placement === 'body' && !formBody) {
    throw new GatewayError('unsupported_payload', `OAuth parameters can go in the body only of an application/x-www-form-urlencoded request, not "${r.contentType ?? 'no content type'}"`)
  }
  if (s.preparing && r.callback === undefined && r.verifier === undefined && r.extraOAuthParams === undefined && !(r.body !== undefined && formBody) && preparedFor(s, r.token)) return signPrepared(s, r, url, whole)
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
  const signature = signatureOf(s, r, baseString)
  const protocolValues = enc as string[]
  protocolNames.push('oauth_signature')
  protocolValues.push(encodedSignature(statics.signatureMethod, signature))
  const placed = statics.placement === 'header' ? authorizationHeader(s.realm, protocolNames, protocolValues) : formPairs(protocolNames, protocolValues)
  if (!whole) return toSend(s, r, url, placed)
  p.oauth_signature = signature
  return signedResult(s, r, url, placed, baseString, signature, Object.freeze(p))
}

/** Signs a request; throws TypeError on misuse, GatewayError('unsupported_payload') for body placement of a non-form body. */
export function signRequest(input: SignInput): SignResult {
  return createSigner(input).sign(input)
}
