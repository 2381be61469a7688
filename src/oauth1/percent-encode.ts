/**
 * RFC 5849 §3.6 percent-encoding, and the application/x-www-form-urlencoded decoding that
 * §3.4.1.3.1 applies to query strings and form bodies before parameters are re-encoded.
 */

/** A decoded request parameter: `[name, value]`. */
export type Param = readonly [name: string, value: string]

const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded'
const UNRESERVED = /^[A-Za-z0-9._~-]*$/

/**
 * RFC 5849 §3.6: UTF-8, then every octet outside `A-Z a-z 0-9 - . _ ~` as `%XX` (uppercase).
 * Throws URIError on a lone surrogate: it has no UTF-8 form, so no server could decode it back.
 */
export function percentEncode(s: string): string {
  // Keys, nonces, timestamps and most values need no escaping: skip the encode and the replace.
  if (UNRESERVED.test(s)) return s
  // encodeURIComponent already emits UTF-8 with uppercase hex and keeps the RFC 3986 unreserved
  // set; it additionally keeps ! ' ( ) *, which §3.6 requires encoded.
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The encoding, or undefined where percentEncode throws: the throw then happens where it always did. */
export function encodedOrLater(s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  try {
    return percentEncode(s)
  } catch {
    return undefined
  }
}

/** percentEncode that keeps the last value's encoding: a profile's requests mostly repeat it. */
export function lastEncoding(): (s: string) => string {
  let last: string | undefined
  let encoded = ''
  return (s) => {
    if (s !== last) {
      encoded = percentEncode(s) // throws (a lone surrogate) before anything is kept
      last = s
    }
    return encoded
  }
}

/**
 * percentEncode(`${protocol}//${host}`), kept for the last scheme and host: compared as the two
 * parts (mostly the very strings of the last request), so no origin is joined and read per request.
 */
export function lastOriginEncoding(): (protocol: string, host: string) => string {
  let lastProtocol: string | undefined
  let lastHost: string | undefined
  let encoded = ''
  return (protocol, host) => {
    if (protocol !== lastProtocol || host !== lastHost) {
      encoded = percentEncode(`${protocol}//${host}`) // throws (a lone surrogate) before anything is kept
      lastProtocol = protocol
      lastHost = host
    }
    return encoded
  }
}

/** True for the character code (or byte) of a hex digit, either case. */
export function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)
}

/**
 * Decodes one form-encoded name or value: `+` is a space, `%XX` an octet, octets are UTF-8.
 * Lenient like the WHATWG urlencoded parser (a `%` not followed by two hex digits stays
 * literal; invalid UTF-8 becomes U+FFFD), because the server we sign for parses leniently too.
 */
export function formDecode(s: string): string {
  if (!/[%+]/.test(s)) return s
  return Buffer.from(formOctets(s)).toString('utf8')
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** formDecode for a value that must be UTF-8 (a provider's token): undefined when its octets are not. */
export function formDecodeStrict(s: string): string | undefined {
  try {
    return strictUtf8.decode(Uint8Array.from(formOctets(s)))
  } catch {
    return undefined
  }
}

/** The octets of a form-encoded name or value (`+` a space, `%XX` an octet, the rest as UTF-8). */
function formOctets(s: string): number[] {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x2b) {
      bytes.push(0x20)
    } else if (c === 0x25 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      // Copy the rest of this run of ordinary characters (including astral pairs) as UTF-8.
      let j = i + 1
      while (j < s.length && s.charCodeAt(j) !== 0x25 && s.charCodeAt(j) !== 0x2b) j++
      for (const b of Buffer.from(s.slice(i, j), 'utf8')) bytes.push(b)
      i = j - 1
    }
  }
  return bytes
}

/**
 * Parses a query string (without `?`) or form body into decoded pairs, in order.
 * Duplicates and empty values are kept (`c2` → `['c2', '']`); empty `&&` segments are skipped.
 */
export function parseForm(s: string): Param[] {
  const out: Param[] = []
  for (const part of s.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = eq === -1 ? part : part.slice(0, eq)
    const value = eq === -1 ? '' : part.slice(eq + 1)
    out.push([formDecode(name), formDecode(value)])
  }
  return out
}

/**
 * True when a Content-Type names the form media type anywhere but not plainly (its media type,
 * cut at `;`, is something else): `application/x-www-form-urlencoded,text/plain` or
 * `…urlencoded x`. Parsers disagree on such a body: PHP cuts the type at `;`, `,` or a space
 * and reads a form; oauthlib looks for the name anywhere; strict ones (Go, Werkzeug) do not.
 */
export function isAmbiguousFormContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && FORM_ANYWHERE.test(contentType) && !isFormContentType(contentType)
}

/** The form type's name anywhere, any case: no allocation for the usual JSON or text types. */
const FORM_ANYWHERE = /application\/x-www-form-urlencoded/i

/** True when a Content-Type header names application/x-www-form-urlencoded (parameters ignored). */
export function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || !FORM_ANYWHERE.test(contentType)) return false
  const mediaType = contentType.split(';', 1)[0] ?? ''
  return mediaType.trim().toLowerCase() === FORM_MEDIA_TYPE
}

/**
 * The Content-Type of a form body with its media type written `application/x-www-form-urlencoded`,
 * its parameters kept. Media types are case-insensitive (RFC 9110 §8.3.1) and backends read
 * `Application/X-WWW-Form-Urlencoded` as a form, but python-oauthlib looks for the exact lower-case
 * text and otherwise leaves the body out of its base string, so no signature over the form verifies there.
 */
export function canonicalFormContentType(contentType: string): string {
  const semicolon = contentType.indexOf(';')
  return semicolon === -1 ? FORM_MEDIA_TYPE : `${FORM_MEDIA_TYPE}${contentType.slice(semicolon)}`
}

const CHARSET_PARAMETER = /;\s*charset\s*=\s*"?([^";,\s]*)/gi

/** The charsets a Content-Type names (`; charset=…`, any number of times), lower-cased. */
export function namedCharsets(contentType: string): string[] {
  return [...contentType.matchAll(CHARSET_PARAMETER)].map((m) => (m[1] ?? '').toLowerCase())
}

/** Serialises pairs as `enc(name)=enc(value)` joined by `&`, the §3.5.2/§3.5.3 transmission form. */
export function formEncode(pairs: Iterable<Param>): string {
  const parts: string[] = []
  for (const [name, value] of pairs) parts.push(`${percentEncode(name)}=${percentEncode(value)}`)
  return parts.join('&')
}
