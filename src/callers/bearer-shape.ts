/**
 * The spelling of the gateway's opaque bearers: 24 random bytes (32 base64url characters), then
 * an 11-character tag over their LOWER-CASED text, all in base64url: 43 characters, the shape
 * earlier releases issued (32 random bytes) and still accept, as they look a bearer up by the
 * hash of the whole token. The tag is no secret and proves nothing; it lets the gateway tell its
 * bearers apart in text it would forward (a header, a URL, a host name) without a store lookup.
 *
 * Case-blind by construction: the tag is over the lower-cased random part and spelled in
 * characters whose case carries nothing (base32: a-z, 2-7; the last one c g k o s w 0 4, values
 * with no padding bits), and it is compared with both sides lower-cased. So every case variant of
 * a bearer is recognised (a lower-cased header name, a tenant, a DNS name), and a case-folded copy
 * gives no offline check of the original's case: the ~2^26 case combinations can only be tried
 * against the gateway's store, which throttles. 53 tag bits: a random 43-character base64url
 * string, in any case, carries a matching tag with probability about 2^-54.
 */
import { hash, randomBytes } from 'node:crypto'

/** A gateway bearer's length in base64url characters (32 bytes). */
export const BEARER_LENGTH = 43
// 24 bytes are exactly 32 characters: their text is their one spelling, and what the tag is over.
const RANDOM_CHARACTERS = 32
const TAG_CHARACTERS = BEARER_LENGTH - RANDOM_CHARACTERS
// Domain separation: no other SHA-256 the gateway computes is over this prefix. 22 bytes, so label and
// random part (54) fit one SHA-256 block: a window costs one compression, not two.
const TAG_LABEL = 'mtls-gw bearer tag v2\0'
// 5 bits each: ten of these, and 3 bits in the last (43 characters end on 4 bits and 2 padding bits).
const TAG_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const LAST_ALPHABET = 'cgkosw04'

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
// The base64url alphabet by char code, each character's 6-bit value; -1 outside it.
const VALUE = new Int8Array(128).fill(-1)
for (const [v, c] of [...BASE64URL].entries()) VALUE[c.charCodeAt(0)] = v
// By char code, in any case: the tag character's 5 bits; -1 for characters no tag holds (0 1 8 9 - _).
const TAG_VALUE = new Int8Array(128).fill(-1)
for (const [v, c] of [...TAG_ALPHABET].entries()) TAG_VALUE[c.charCodeAt(0)] = TAG_VALUE[c.toUpperCase().charCodeAt(0)] = v
// By char code, in any case: the last character's 3 bits, padding bits ignored (d e f are c with padding: the same bytes); -1 outside.
const LAST_VALUE = new Int8Array(128).fill(-1)
for (const [v, c] of [...LAST_ALPHABET].entries()) {
  const base = VALUE[c.charCodeAt(0)] as number
  for (let pad = 0; pad < 4; pad++) {
    const spelled = BASE64URL[base + pad] as string
    LAST_VALUE[spelled.charCodeAt(0)] = LAST_VALUE[spelled.toUpperCase().charCodeAt(0)] = v
  }
}
const DASH = 45
const UNDERSCORE = 95

/**
 * The digest's first 60 bits as two 30-bit halves: SHA-256(label || the lower-cased random
 * part), read from the one-shot hash's base64url text (a Buffer out, or a hash object, cost more).
 */
function digestOf(lowerRandom: string): [number, number] {
  const d = hash('sha256', TAG_LABEL + lowerRandom, 'base64url')
  let hi = 0
  let lo = 0
  for (let k = 0; k < 5; k++) {
    hi = (hi << 6) | (VALUE[d.charCodeAt(k)] as number)
    lo = (lo << 6) | (VALUE[d.charCodeAt(5 + k)] as number)
  }
  return [hi, lo]
}
// The tag: ten 5-bit groups (the first 50 bits), then 3 bits.
function groupOf(hi: number, lo: number, k: number): number {
  return k < 6 ? (hi >>> (25 - 5 * k)) & 31 : (lo >>> (25 - 5 * (k - 6))) & 31
}
const lastOf = (lo: number): number => (lo >>> 7) & 7

function tagOf(lowerRandom: string): string {
  const [hi, lo] = digestOf(lowerRandom)
  let tag = ''
  for (let k = 0; k < TAG_CHARACTERS - 1; k++) tag += TAG_ALPHABET[groupOf(hi, lo, k)] as string
  return tag + (LAST_ALPHABET[lastOf(lo)] as string)
}

/** A new opaque bearer: 192 random bits and their tag. */
export function newBearerToken(): string {
  const random = randomBytes(RANDOM_CHARACTERS * 3 / 4).toString('base64url')
  return random + tagOf(random.toLowerCase())
}

/** Whether text[start, start + 43), base64url characters, could end in a tag: no hash (the cheap check that bounds the scan). */
function mayBeTagged(text: string, start: number): boolean {
  const tag = start + RANDOM_CHARACTERS
  for (let k = 0; k < TAG_CHARACTERS - 1; k++) if ((TAG_VALUE[text.charCodeAt(tag + k)] as number) < 0) return false
  return (LAST_VALUE[text.charCodeAt(tag + TAG_CHARACTERS - 1)] as number) >= 0
}

/** Whether text[start, start + 43), base64url characters that passed mayBeTagged, ends in the tag of its first 32, in any case. */
function isTagged(text: string, start: number): boolean {
  const [hi, lo] = digestOf(text.slice(start, start + RANDOM_CHARACTERS).toLowerCase())
  const at = start + RANDOM_CHARACTERS
  for (let k = 0; k < TAG_CHARACTERS - 1; k++) if (TAG_VALUE[text.charCodeAt(at + k)] !== groupOf(hi, lo, k)) return false
  return LAST_VALUE[text.charCodeAt(at + TAG_CHARACTERS - 1)] === lastOf(lo)
}

const isJoin = (c: number): boolean => c === DASH || c === UNDERSCORE

/**
 * Whether `text` holds a bearer this release issued, in any letter case: within a run of
 * base64url characters (delimited by the text's ends or characters outside [A-Za-z0-9_-]), 43
 * characters that start at the run's start or after a "-" or "_" and end at the run's end or
 * before one (`x-<bearer>`, `00-<bearer>-01`), and carry their tag. One pass; a window is hashed
 * only when its last 11 characters could be a tag, at most 3 per 44 characters of text.
 */
export function carriesGatewayBearer(text: string): boolean {
  const n = text.length
  if (n < BEARER_LENGTH) return false
  // The current run starts at `start`; its last "-"/"_" (or the delimiter before it) is at `join`.
  let start = 0
  let join = -1
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : -1
    const v = c >= 0 && c < 128 ? (VALUE[c] as number) : -1
    // Letters and digits only extend the run: a window ends at a "-"/"_" or at the run's end.
    if (v >= 0 && v < 62) continue
    // A window ending here whose last 11 characters hold no "-"/"_" (so hashed windows end 12 or
    // more apart: at most 3 hashes per 44 characters), starting at the run's start or after a "-"/"_".
    const s = i - BEARER_LENGTH
    if (i - join > TAG_CHARACTERS && s >= start && (s === start || isJoin(text.charCodeAt(s - 1))) && mayBeTagged(text, s) && isTagged(text, s)) return true
    join = i
    if (v < 0) {
      start = i + 1
      if (n - start < BEARER_LENGTH) return false
    }
  }
  return false
}
