/**
 * §3.5: a signature's protocol parameters placed as configured, as the two results a signer gives:
 * what the proxy sends (SignatureToSend) and the whole SignResult (the `sign` command, the public API).
 */
import { bodyText, prependForm } from './placement.js'
import type { SignerParts } from './signer-parts.js'
import type { SignableUrl, SignatureToSend, SignResult, SignRequestInput } from './sign-input.js'

/**
 * What is sent: `placed` is the Authorization header (header placement) or the encoded protocol
 * parameters as form pairs, put in front of the query or the form body.
 */
export function toSend(s: SignerParts, r: SignRequestInput, url: SignableUrl, placed: string): SignatureToSend {
  switch (s.statics.placement) {
    case 'header':
      return { authorizationHeader: placed }
    case 'query': {
      // signWith parsed its own copy for query placement: the instanceof only satisfies the type.
      const queryUrl = url instanceof URL ? url : new URL(url.href)
      queryUrl.search = prependForm(queryUrl.search.slice(1), placed)
      return { queryUrl }
    }
    case 'body':
      return { body: prependForm(bodyText(r.body), placed) }
    default:
      throw new TypeError(`unknown OAuth parameter placement ${String(s.statics.placement)}`)
  }
}

/** The whole result: a plain object whose pieces, oauthParams among them, are its own properties. */
export function signedResult(s: SignerParts, r: SignRequestInput, url: SignableUrl, placed: string, baseString: string, signature: string, oauthParams: Readonly<Record<string, string>>): SignResult {
  if (s.statics.placement === 'header') return { baseString, signature, oauthParams, authorizationHeader: placed, url: url.href }
  const sent = toSend(s, r, url, placed)
  if (sent.queryUrl !== undefined) return { baseString, signature, oauthParams, url: sent.queryUrl.href, queryUrl: sent.queryUrl }
  return { baseString, signature, oauthParams, url: url.href, body: sent.body }
}
