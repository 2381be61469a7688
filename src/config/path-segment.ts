/**
 * The one-segment rule, shared by everything that puts a value into a URL path (path
 * authorization fields, profile URL templates): the value, percent-encoded, must be read as
 * exactly one ordinary segment by any backend, at every percent-decoding depth it may apply and
 * in NFKC form. Encoding alone is not enough: a backend that decodes `%2F` or `%2e` before
 * routing would see the segment split or a dot-segment, outside the base path or tenant segment.
 */
import type { Reason } from '../errors.js'
import { firstReadingProblem, type PathReading } from './path-readings.js'

/** Why a value cannot fill one path segment; `why` never quotes the value (it may be a secret). */
export interface PathSegmentProblem {
  readonly reason: Extract<Reason, 'bad_request' | 'path_escapes_base'>
  readonly why: string
}

// Fast path: no "%", no separator, no space or control, no non-ASCII, and not starting with "." (so not a dot-segment).
const PLAIN_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/
const SEPARATOR = /[/\\?#]/
const CONTROL = /[\x00-\x1f\x7f]/
const LONE_SURROGATE = /\p{Cs}/u
// What trimming backends strip: JavaScript/Go/Java Unicode spaces, Python's str.strip() (\x1c-\x1f, NEL), Java's trim() (≤ U+0020).
const EDGE_SPACE = /^[\s\x00-\x20\x85]|[\s\x00-\x20\x85]$/
const ALL_SPACE = /^[\s\x00-\x20\x85]+$/

const ESCAPES_SEPARATOR: PathSegmentProblem = {
  reason: 'path_escapes_base',
  why: 'contains "/", "\\", "?" or "#" (in some encoding or Unicode form): it must fill exactly one path segment, and each of these ends one where a backend decodes, which could move the request out of the base path or tenant segment',
}
const ESCAPES_DOT: PathSegmentProblem = { reason: 'path_escapes_base', why: 'is a dot-segment ("." or "..", in some encoding or Unicode form): it could move the request out of the base path or tenant segment' }
const EMPTY: PathSegmentProblem = { reason: 'bad_request', why: 'is empty: it must fill one path segment' }
const ONLY_WHITESPACE: PathSegmentProblem = { reason: 'bad_request', why: 'is only whitespace (in some encoding; U+2028 LINE SEPARATOR and the no-break space count): it must fill one path segment, which a backend that trims segments would read as empty' }
const NOT_UNICODE: PathSegmentProblem = { reason: 'bad_request', why: 'is not well-formed Unicode (it has a lone UTF-16 surrogate)' }
const HAS_CONTROL: PathSegmentProblem = { reason: 'bad_request', why: 'contains a control character (such as NUL, CR or LF) in some encoding' }
const EDGE_WHITESPACE: PathSegmentProblem = { reason: 'bad_request', why: 'starts or ends with whitespace (in some encoding): a backend that trims segments would read another value' }
const NOT_UTF8: PathSegmentProblem = { reason: 'bad_request', why: 'percent-decodes to octets that are not UTF-8' }

/**
 * A `.` or `..` segment, also as `..;params` (Tomcat, Jetty read those as dot-segments), and as
 * `..?x`, `..#x` or `.. ` in a decoded reading (`..%3F`): a backend that parses the decoded path
 * again ends it at "?" or "#" and trims trailing spaces, and then resolves the `..`.
 */
export function hasDotSegment(path: string): boolean {
  // Such a segment starts with "." at the start or after a separator: without one, no split.
  if (path.charCodeAt(0) !== 0x2e && !path.includes('/.') && !path.includes('\\.')) return false
  return path.split(/[/\\]/).some((seg) => {
    const name = (seg.split(/[;?#]/)[0] as string).replace(/ +$/, '')
    return name === '.' || name === '..'
  })
}

/** The first problem of one reading of the value (one decoding depth, one Unicode form). */
function readingProblem(form: string): PathSegmentProblem | undefined {
  if (SEPARATOR.test(form)) return ESCAPES_SEPARATOR
  if (hasDotSegment(form)) return ESCAPES_DOT
  if (CONTROL.test(form)) return HAS_CONTROL
  if (EDGE_SPACE.test(form)) return ALL_SPACE.test(form) ? ONLY_WHITESPACE : EDGE_WHITESPACE
  return undefined
}

/**
 * Why `value` (the text that will be percent-encoded into the path) is not exactly one
 * ordinary segment at every reading a backend may make of it (path-readings.ts): as is and after
 * up to three further percent-decodings, each also Unicode-folded (NFKC reads "．" as "." and
 * "／" as "/"; "∕" reads as "/", not the "⁄" NFKC writes for "½" unless it makes a dot-segment)
 * and decoded on from there — or undefined. Refused: empty, only
 * whitespace, a separator, a dot-segment, a control character, whitespace at either end (backends
 * that trim would read another value), a lone surrogate, encoded octets that are not UTF-8 (the
 * overlong `%c0%ae` reads as "." to lenient decoders).
 */
export function pathSegmentProblem(value: string): PathSegmentProblem | undefined {
  if (PLAIN_SEGMENT.test(value)) return undefined
  // Only the empty string: String.trim() also strips U+2028, a tab, a no-break space, which are not "empty".
  if (value === '') return EMPTY
  if (LONE_SURROGATE.test(value)) return NOT_UNICODE
  // A lone "%" is data; encoded octets that are not UTF-8 are not.
  // A lossy reading splits fractions and units (`1⁄2` as `1/2`): only its dot-segments count (PathReading.lossy).
  const judge = (r: PathReading): PathSegmentProblem | undefined => (r.lossy ? (hasDotSegment(r.text) ? ESCAPES_DOT : undefined) : readingProblem(r.text))
  return firstReadingProblem(value, judge, (r) => (/%[0-9a-fA-F]{2}/.test(r.text) ? NOT_UTF8 : undefined))
}
