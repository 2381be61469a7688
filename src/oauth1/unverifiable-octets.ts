/**
 * Form-encoded text (a query, a form body) whose parameters verifiers read differently, so that
 * no OAuth 1.0a signature over them verifies everywhere (RFC 5849 §3.4.1.3: decoded, then
 * percent-encoded as UTF-8). The proxy and `oauth1 sign` refuse such text before signing, and
 * percent-encode the raw ASCII characters RFC 3986 does not allow unencoded (`[` as `%5B`): every
 * parser reads the escape as the character, and python-oauthlib reads the text at all.
 */
import { isUtf8 } from 'node:buffer'
import { isHex, namedCharsets } from './percent-encode.js'

/** What is wrong (`the query has …`) and how to send it instead. */
export interface UnverifiableOctets {
  readonly what: string
  readonly fix: string
}

// RFC 3986's query characters (unreserved, sub-delims, ":", "@", "/", "?", and "%" for escapes),
// which are also all python-oauthlib's urldecode accepts raw: any other ASCII character refuses a
// query there (the request fails) or leaves a form body out of the base string, while PHP and
// servlets read it as itself. So the gateway sends those others percent-encoded.
const SENT_RAW = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&\'()*+,;=:@/?%') SENT_RAW[c.charCodeAt(0)] = 1

// SENT_RAW's characters but "%": text of only these has no escape to judge and nothing to encode.
const RAW_WITHOUT_ESCAPES = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*$/

/**
 * True when `text` (a query or form body as latin1 characters) is all characters RFC 3986 allows
 * raw, with no "%": unverifiableOctets finds nothing in it and encodeRawCharacters keeps it, so
 * a caller may skip both (and the Buffer they read) on the common query.
 */
export function isSentAsIs(text: string): boolean {
  return RAW_WITHOUT_ESCAPES.test(text)
}

/** The octets the `%XX` escapes decode to, the rest as sent (a UTF-8 sequence holds no ASCII byte, so the whole is UTF-8 exactly when every name and value is). */
function escapedOctets(text: Buffer): Buffer {
  const out = Buffer.allocUnsafe(text.length)
  let n = 0
  for (let i = 0; i < text.length; i++) {
    if (text[i] === 0x25 && i + 2 < text.length && isHex(text[i + 1] as number) && isHex(text[i + 2] as number)) {
      out[n++] = parseInt(text.toString('latin1', i + 1, i + 3), 16)
      i += 2
    } else {
      out[n++] = text[i] as number
    }
  }
  return out.subarray(0, n)
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0')
}

/** The first raw non-ASCII byte, or a `%` python-oauthlib refuses (not before two hex digits, unless at the very end). */
function firstUnread(text: Buffer): UnverifiableOctets | undefined {
  for (let i = 0; i < text.length; i++) {
    const b = text[i] as number
    if (b >= 0x80) {
      return { what: `a raw non-ASCII byte (0x${hex(b)} at offset ${i}), which verifiers read differently (python-oauthlib refuses the text, PHP signs the byte, servlets decode it by the charset)`, fix: 'percent-encode it as UTF-8 (é is %C3%A9)' }
    }
    if (b === 0x25 && i + 1 < text.length && (!isHex(text[i + 1] as number) || (i + 2 < text.length && !isHex(text[i + 2] as number)))) {
      return { what: `a "%" not followed by two hex digits (at offset ${i}), which python-oauthlib refuses while PHP and servlets read it as a "%"`, fix: 'send a "%" as %25' }
    }
  }
  return undefined
}

/**
 * `text` (form-encoded ASCII, already judged by unverifiableOctets) with every raw character RFC
 * 3986 does not allow unencoded in a query (`[ ] { } | \ ^` backtick, `" < >`, space, a control
 * character) as its `%XX` escape; the same Buffer when there is none. Existing escapes and "%"
 * are kept, so an escape is never encoded twice (`%5B` stays `%5B`).
 */
export function encodeRawCharacters(text: Buffer): Buffer {
  let first = 0
  while (first < text.length && SENT_RAW[text[first] as number] === 1) first++
  if (first === text.length) return text
  const parts: string[] = [text.toString('latin1', 0, first)]
  for (let i = first; i < text.length; i++) {
    const b = text[i] as number
    parts.push(b < 0x80 && SENT_RAW[b] !== 1 ? `%${hex(b)}` : String.fromCharCode(b))
  }
  return Buffer.from(parts.join(''), 'latin1')
}

/**
 * Why verifiers would read `text`'s parameters differently, or undefined; `contentType` is a form's
 * (a query's text is UTF-8). Besides a raw non-ASCII byte and a "%" python-oauthlib refuses
 * (raw ASCII it refuses is sent encoded: encodeRawCharacters): an escape that is not UTF-8
 * (`%E9`: U+FFFD to oauthlib, the octet to PHP), and where the text's charset is not UTF-8 (a
 * form named Latin-1 or ASCII) any escape above 7F (`%C3%A9`: é to oauthlib and PHP, Ã© to a servlet reading by the charset).
 */
export function unverifiableOctets(text: Buffer, contentType?: string): UnverifiableOctets | undefined {
  const unread = firstUnread(text)
  if (unread !== undefined || !text.includes(0x25)) return unread
  const octets = escapedOctets(text)
  const charsetIsUtf8 = contentType === undefined || namedCharsets(contentType).every((c) => c === 'utf-8' || c === 'utf8')
  if (charsetIsUtf8 ? isUtf8(octets) : !octets.some((b) => b >= 0x80)) return undefined
  return charsetIsUtf8
    ? { what: 'a percent-escape whose octets are not UTF-8 (python-oauthlib reads U+FFFD, PHP the octet)', fix: 'percent-encode text as UTF-8 (é is %C3%A9)' }
    : { what: 'a percent-escape above %7F in a form whose charset is not UTF-8 (python-oauthlib and PHP read UTF-8, servlets the charset)', fix: 'send the form percent-encoded as UTF-8 (é is %C3%A9) without that charset' }
}
