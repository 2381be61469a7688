/**
 * RFC 5849 §3.5: the encoded protocol parameters as an Authorization header (§3.5.1), or
 * added to the form body (§3.5.2) or the query (§3.5.3), in front of the parameters there.
 */
import { percentEncode } from './percent-encode.js'
import type { SignatureMethod } from './signature.js'

/** RFC 2617 quoted-string content: controls dropped, `"` and `\` escaped (see authorizationHeader). */
export function quotedRealm(realm: string): string {
  return `realm="${realm.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`
}

/** `oauth_signature`'s encoding (§3.6). */
export function encodedSignature(method: SignatureMethod, signature: string): string {
  return method === 'PLAINTEXT' ? percentEncode(signature) : encodedBase64(signature)
}

/**
 * A base64 text percent-encoded: its only characters outside §3.6's unreserved set are + / =, as
 * %2B %2F %3D. What encodeURIComponent gives them, in half its time for an HMAC-* signature.
 */
function encodedBase64(text: string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x2b && c !== 0x2f && c !== 0x3d) continue
    out += `${text.slice(from, i)}${c === 0x2b ? '%2B' : c === 0x2f ? '%2F' : '%3D'}`
    from = i + 1
  }
  return from === 0 ? text : out + text.slice(from)
}

/**
 * §3.5.1: `OAuth realm="…", name="enc(value)", …`. The realm is not a protocol parameter:
 * item 5 defers to RFC 2617, so it is a plain quoted-string (`"` and `\` escaped), not
 * percent-encoded — `realm="Photos Inc."`, as providers compare it.
 */
export function authorizationHeader(quotedRealm: string | undefined, names: readonly string[], values: readonly string[]): string {
  let header = quotedRealm === undefined ? 'OAuth ' : `OAuth ${quotedRealm}`
  for (let i = 0; i < names.length; i++) header += `${i === 0 && quotedRealm === undefined ? '' : ', '}${names[i] as string}="${values[i] as string}"`
  return header
}

export function bodyText(body: Buffer | string | undefined): string {
  if (body === undefined) return ''
  return typeof body === 'string' ? body : body.toString('utf8')
}

/** §3.5.2/§3.5.3: the encoded protocol parameters as `enc(name)=enc(value)` pairs (prependForm puts them in front). */
export function formPairs(names: readonly string[], values: readonly string[]): string {
  let pairs = ''
  for (let i = 0; i < names.length; i++) pairs += `${i === 0 ? '' : '&'}${names[i] as string}=${values[i] as string}`
  return pairs
}

/**
 * `pairs` (formPairs) put in front of an existing query or form body. In front, because parsers
 * keep only so many parameters (PHP's max_input_vars, qs's parameterLimit: 1000) and drop the
 * rest; the signature does not depend on the order, as the base string sorts the parameters
 * (§3.4.1.3.2).
 */
export function prependForm(existing: string, pairs: string): string {
  return existing === '' ? pairs : `${pairs}&${existing}`
}
