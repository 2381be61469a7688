/**
 * Text a caller or an operator sends (header values, query strings, request bodies) is read as
 * UTF-8 and nothing else: bytes that are not UTF-8 are a 400, never replaced (U+FFFD) or read as
 * Latin-1, so two different byte strings never name the same user, and a text names the same user
 * on every path (header, dance, console, revoke).
 */
import { GatewayError } from '../errors.js'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** `bytes` read as UTF-8; 400 bad_request "<what> is not valid UTF-8: <hint>" otherwise. */
export function utf8Text(bytes: Uint8Array, what: string, hint: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new GatewayError('bad_request', `${what} is not valid UTF-8: ${hint}`)
  }
}

/**
 * 400 "<what> is not valid UTF-8" when the percent-encoded octets of `encoded` (a URL's query as
 * WHATWG URL gives it, ASCII with its escapes; a form body) are not UTF-8. URLSearchParams would
 * read `user=jos%E9` as "jos\uFFFD", the same user as `jos%E8`, and another user than the header's
 * or the revoke path's (which refuse it).
 */
export function checkPercentUtf8(encoded: string, what: string): void {
  if (!encoded.includes('%')) return
  const parts = encoded.split(/(%[0-9a-fA-F]{2})/)
  const bytes = Buffer.concat(parts.map((p, i) => (i % 2 === 1 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8'))))
  utf8Text(bytes, what, 'percent-encode a character\'s UTF-8 bytes (é is %C3%A9)')
}

/** A request body's text (the gateway API's and the console's JSON and forms): UTF-8, or a 400. */
export function bodyText(bytes: Uint8Array): string {
  return utf8Text(bytes, 'the request body', 'send its text UTF-8 encoded (the gateway reads no other encoding)')
}
