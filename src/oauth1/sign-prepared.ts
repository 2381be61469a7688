/**
 * A static token's requests signed with its protocol parameters prepared once (prepared-token.ts):
 * only the timestamp, nonce and query are each request's. The same results as sign.ts's general way,
 * checks in the same order.
 */
import { percentEncode } from './percent-encode.js'
import { encodedSignature } from './placement.js'
import { currentTimestamp, encodeProtocolParameters, newNonce } from './protocol-parameters.js'
import { prepareToken, preparedForm, preparedHeader, preparedOAuthParams, preparedParameters } from './prepared-token.js'
import { signedResult, toSend } from './signed-result.js'
import { protocolParameters, queryParameters, signatureOf, type SignerParts } from './signer-parts.js'
import type { SignableUrl, SignatureToSend, SignResult, SignRequestInput } from './sign-input.js'

/**
 * Whether this token's request takes the prepared way: preparing costs more than signing once, so
 * a token is prepared when it signs a second time in a row (a static token), not for a one-off
 * signature or users' tokens taking turns.
 */
export function preparedFor(s: SignerParts, token: string | undefined): boolean {
  if (s.prepared !== undefined && s.prepared.token === token) return true
  const again = s.previousToken === token
  s.previousToken = token
  return again
}

/**
 * The general way for the common request. `whole`: the SignResult; otherwise what is sent alone, with no
 * protocol parameter object made (the proxy's way).
 */
export function signPrepared(s: SignerParts, r: SignRequestInput, url: SignableUrl, whole: boolean): SignResult | SignatureToSend {
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
  const signature = signatureOf(s, r, baseString)
  const encSignature = encodedSignature(statics.signatureMethod, signature)
  const placed = statics.placement === 'header' ? preparedHeader(t, encTimestamp, encNonce, encSignature) : preparedForm(t, encTimestamp, encNonce, encSignature)
  // The proxy's header made here rather than by toSend: its call was ≈ 90 instructions a signature (docs/performance.md, session 52).
  if (!whole) return statics.placement === 'header' ? { authorizationHeader: placed } : toSend(s, r, url, placed)
  return signedResult(s, r, url, placed, baseString, signature, preparedOAuthParams(t, timestamp, nonce, signature))
}
