/**
 * A JOSE header or JWT claims set that names a member twice (`{"alg":"none","alg":"HS256"}`, two
 * `sub`) is refused. JSON.parse, and so jose, keeps the last; python's json (jwcrypto) keeps the
 * last too, other readers keep the first or refuse: one token, two meanings (whose `sub`, which
 * `alg`) to the gateway and to whatever else reads it. RFC 7515 §4 and RFC 7519 §4 let a
 * recipient refuse such a token; RFC 7516 §4 the same for a JWE's header.
 */
import { authError } from './auth-failure.js'
import { quotedJsonName, repeatedJsonKey } from './single-parameter.js'

const decoder = new TextDecoder()

/**
 * Throws (401/407 malformed) when `part`, one base64url part of a compact JWS or JWE, is JSON
 * naming a member twice in one object at any depth; `what` names the part in the message. Text
 * that is no JSON is left to jose, which refuses it.
 */
export function refuseRepeatedMembers(part: string, what: string, prefix: string, rfc: string): void {
  // Decoded as jose decodes it (TextDecoder, U+FFFD for bad bytes), so both read the same text.
  const text = decoder.decode(Buffer.from(part, 'base64url'))
  try {
    JSON.parse(text)
  } catch {
    return
  }
  const name = repeatedJsonKey(text)
  if (name === undefined) return
  throw authError('malformed', `${prefix}${what} names ${quotedJsonName(name)} more than once: JSON readers differ on which one counts (${rfc}); send each member once`)
}
