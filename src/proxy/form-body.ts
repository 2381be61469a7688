/**
 * Whether a request's body is form parameters, as the steps that remove, add or sign them
 * must judge it: yes, no, or refused when backends would disagree (a Content-Type that names
 * the form type but not plainly). Judged the strict way while some backend reads a form, a
 * caller's parameters there would stay beside the gateway's and override them.
 */
import { GatewayError } from '../errors.js'
import { formEncode, isAmbiguousFormContentType, isFormContentType, namedCharsets, percentEncode } from '../oauth1/index.js'
import type { Admitted } from './pipeline.js'

/** A Content-Type without a media type before its parameters (`""`, `;charset=utf-8`): Rack's nil type. */
const NO_MEDIA_TYPE = /^\s*(?:[;,]|$)/

/** The outbound Content-Type (the first, when repeated). */
export function contentTypeOf(ctx: Admitted): string | undefined {
  const ct = ctx.outbound.headers['content-type']
  return Array.isArray(ct) ? ct[0] : ct
}

/**
 * True for a form body; throws `unsupported_payload` for an ambiguous one; `why` names what
 * reads it. A request without a body has no parameters there. A POST body without a media type
 * (no Content-Type, an empty one) is ambiguous too: Rack reads it as a form and merges it over
 * the query, as does Python's cgi.FieldStorage; oauthlib and strict parsers do not.
 */
export function isFormBody(ctx: Admitted, contentType: string | undefined, why: string): boolean {
  // `present`, not `stream`: asking for the stream sends 100 Continue before a refusal. An empty
  // form is a form (the gateway adds payload fields to it); nothing else needs judging.
  if (!ctx.outbound.body.present) return isFormContentType(contentType)
  if (isFormContentType(contentType)) return refuseIfEncoded(ctx, why, 'a form body') && refuseForeignCharset(ctx, contentType as string, why, 'form')
  // Only a POST: Rack's form_data? and cgi.FieldStorage read an untyped POST body as a form, and
  // no common parser an untyped PUT's (`curl -T` sends one).
  if ((contentType === undefined || NO_MEDIA_TYPE.test(contentType)) && ctx.outbound.method === 'POST') {
    throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and the request has a body without a Content-Type, which some backends read as a form and others do not: send its media type`)
  }
  if (contentType === undefined || !isAmbiguousFormContentType(contentType)) return false
  const shown = contentType.length > 80 ? `${contentType.slice(0, 80)}…` : contentType
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and Content-Type ${JSON.stringify(shown)} is read as a form by some backends and not by others: send "application/x-www-form-urlencoded" (parameters after ";") or another media type`)
}

/** The outbound Content-Encoding when it names a coding (anything but none or `identity`). */
function contentEncodingOf(ctx: Admitted): string | undefined {
  const v = ctx.outbound.headers['content-encoding']
  const text = (Array.isArray(v) ? v.join(',') : (v ?? '')).trim()
  return text === '' || /^identity$/i.test(text) ? undefined : text
}

/**
 * True, unless the body the gateway must read (`what`) is compressed: the gateway would judge the
 * compressed bytes while a backend that inflates request bodies (Express's body-parser by default,
 * ASP.NET Core's request decompression, Apache's DEFLATE input filter) reads the caller's own
 * parameters there, unseen and unremoved, and a zlib reader stops before anything appended after
 * its stream. So refused, like every other body backends would read differently.
 */
export function refuseIfEncoded(ctx: Admitted, why: string, what: string): true {
  const encoding = contentEncodingOf(ctx)
  if (encoding === undefined) return true
  const shown = encoding.length > 40 ? `${encoding.slice(0, 40)}…` : encoding
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and the request sends ${what} with Content-Encoding ${JSON.stringify(shown)}, which the gateway does not read: send it uncompressed`)
}

// Charsets in which a form's bytes read as the gateway reads them (ASCII for `&`, `=` and names).
const AS_SENT = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1'])

/**
 * True, unless the body's Content-Type names a charset other than UTF-8 or an ASCII one (or more
 * than one); `kind` is what the gateway reads the body as. ASP.NET Core decodes a form by its
 * charset (UTF-16 included) and servlets decode names and values with it, so a caller's `acct` in
 * UTF-16 is a parameter there and NUL-laced bytes here. Spring reads JSON in any other charset
 * through that charset's decoder: in Shift_JIS a backslash the gateway writes (an escape) right
 * after a character whose UTF-8 ends in byte 0x83 is a kanji's second byte, so a string the
 * gateway closed stays open, and Jackson stops at the first whole object, before the payload field
 * the gateway appended.
 */
export function refuseForeignCharset(ctx: Admitted, contentType: string, why: string, kind: 'form' | 'JSON'): true {
  const named = namedCharsets(contentType)
  if (named.every((c) => c === named[0] && AS_SENT.has(c))) return true
  const shown = contentType.length > 80 ? `${contentType.slice(0, 80)}…` : contentType
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and the ${kind} body's Content-Type ${JSON.stringify(shown)} names a charset the gateway does not read ${kind === 'form' ? 'forms' : 'JSON'} in: send it as UTF-8`)
}

/** The charsets a body the gateway re-writes is read and written in (refuseForeignCharset refuses the others where that matters). */
export type BodyCharset = 'utf-8' | 'us-ascii' | 'iso-8859-1'
const CHARSETS: Readonly<Record<string, BodyCharset>> = { 'us-ascii': 'us-ascii', ascii: 'us-ascii', 'iso-8859-1': 'iso-8859-1', latin1: 'iso-8859-1' }

/** The charset a Content-Type declares, as the gateway reads and writes the body: UTF-8 when it names none (or another). */
export function bodyCharsetOf(contentType: string | undefined): BodyCharset {
  return CHARSETS[namedCharsets(contentType ?? '')[0] ?? ''] ?? 'utf-8'
}

/** Percent-encoding with each character of U+0080–U+00FF as its one Latin-1 octet, the rest as percentEncode (UTF-8). */
const latin1Encode = (s: string): string => s.replace(/[\x80-\xff]|[^\x80-\xff]+/g, (m) => (m.charCodeAt(0) >= 0x80 ? `%${m.charCodeAt(0).toString(16).toUpperCase()}` : percentEncode(m)))

/**
 * Payload fields as form parameters in the form's declared charset: servlets and ASP.NET Core
 * decode a form's escapes by it, so in an ISO-8859-1 form `é` goes as %E9 (its UTF-8 %C3%A9 they
 * read as `Ã©`); a character the charset lacks (in US-ASCII any non-ASCII one, which Java reads as
 * U+FFFD and PHP as UTF-8) is a 400 naming the field, never the value.
 */
export function encodeFormFields(fields: readonly { key: string; value: string }[], contentType: string | undefined): string {
  const charset = bodyCharsetOf(contentType)
  if (charset === 'utf-8') return formEncode(fields.map((f): [string, string] => [f.key, f.value]))
  const foreign = charset === 'us-ascii' ? /[^\x00-\x7f]/ : /[^\x00-\xff]/
  const bad = fields.find((f) => foreign.test(f.key) || foreign.test(f.value))
  if (bad !== undefined) throw new GatewayError('bad_request', `payload field "${bad.key}": its ${foreign.test(bad.key) ? 'name' : 'value'} has a character a form declared ${charset} cannot carry: send the form as UTF-8`)
  return fields.map((f) => `${latin1Encode(f.key)}=${latin1Encode(f.value)}`).join('&')
}

/**
 * `matches` for raw names held as Latin-1 text (one character per byte, so the bytes round-trip
 * exactly): true when the name's bytes match read as Latin-1 or as UTF-8, the two ways a backend
 * may decode a form's raw non-ASCII bytes.
 */
export function byteNameMatcher(matches: (rawName: string) => boolean): (latin1Name: string) => boolean {
  return (name) => matches(name) || (/[\x80-\xff]/.test(name) && matches(Buffer.from(name, 'latin1').toString('utf8')))
}
