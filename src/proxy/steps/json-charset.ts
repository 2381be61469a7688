/**
 * The charsets a JSON body the gateway re-writes is read and written in (refuseForeignCharset
 * refuses any other beside payload fields): the caller's text keeps its meaning in the declared
 * charset, and the gateway's own values are ASCII-only JSON, which every charset and every reader
 * (one that ignores the declared charset too) reads the same.
 */
import { isAscii, isUtf8 } from 'node:buffer'
import type { BodyCharset as JsonCharset } from '../form-body.js'

/** The charset a Content-Type declares (form-body.ts): what the JSON body is read and written in. */
export { bodyCharsetOf } from '../form-body.js'

/** How the body's bytes are turned into text: one character per byte outside UTF-8, so a Latin-1 body's bytes round-trip exactly. */
export const decodingOf = (charset: JsonCharset): BufferEncoding => (charset === 'utf-8' ? 'utf8' : 'latin1')

/** Why the bytes are not text in `charset`, or undefined: read as UTF-8, a raw Latin-1 é became U+FFFD, which re-written would change the caller's value. */
export function charsetProblem(raw: Buffer, charset: JsonCharset): string | undefined {
  if (charset === 'utf-8') return isUtf8(raw) ? undefined : 'is not valid UTF-8, which JSON the gateway re-writes must be'
  return charset === 'us-ascii' && !isAscii(raw) ? 'is not US-ASCII, as its Content-Type declares' : undefined
}

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
const NON_ASCII = /[^\x00-\x7f]/g
const NON_LATIN1 = /[^\x00-\xff]/g

/**
 * The serialised document as bytes in `charset`. Outside JSON strings JSON.stringify writes only
 * ASCII, so a character the charset lacks is inside a string, where its \u escape (a surrogate
 * pair as two) is the same character; a lone surrogate JSON.stringify already escapes.
 */
export function encodeJson(text: string, charset: JsonCharset): Buffer {
  if (charset === 'utf-8') return Buffer.from(text)
  return Buffer.from(text.replace(charset === 'us-ascii' ? NON_ASCII : NON_LATIN1, escape), 'latin1')
}

interface RawJson {
  readonly rawJSON: string
}
// JSON.rawJSON (Node 21+; not yet in TypeScript's lib): JSON.stringify writes its text as it is.
const json = JSON as unknown as { rawJSON(text: string): RawJson; isRawJSON(value: unknown): value is RawJson }

/** A string value JSON.stringify writes as ASCII-only JSON: every non-ASCII character a \u escape. */
export function asciiJsonString(value: string): RawJson {
  return json.rawJSON(JSON.stringify(value).replace(NON_ASCII, escape))
}

/** True for a value asciiJsonString made (an object to typeof, but no JSON object to set keys in). */
export const isRawJson = (value: unknown): boolean => json.isRawJSON(value)
