/**
 * The spelling of the gateway's opaque bearers: 24 random bytes, then the first 8 bytes of
 * SHA-256(TAG_LABEL || the 32 base64url characters of those 24 bytes), all in base64url: 43
 * characters, the shape earlier releases issued (32 random bytes) and still accept, as they look
 * a bearer up by the hash of the whole token. The tag is no secret and proves nothing; it lets the
 * gateway tell its bearers apart in text it would forward (a header, a URL) without a store
 * lookup. A random 43-character string carries a matching tag with probability 2^-64.
 */
import { createHash, hash, randomBytes } from 'node:crypto'

/** A gateway bearer's length in base64url characters (32 bytes). */
export const BEARER_LENGTH = 43
// 24 bytes are exactly 32 characters: their text is their one spelling, and what the tag is over.
const RANDOM_CHARACTERS = 32
const TAG_BYTES = 8
// Domain separation: no other SHA-256 the gateway computes is over this prefix.
const TAG_LABEL = 'mtls-gateway bearer tag v1\0'

// The base64url alphabet by char code, each character's 6-bit value; -1 outside it.
const VALUE = new Int8Array(128).fill(-1)
for (const [v, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) VALUE[c.charCodeAt(0)] = v

/** A new opaque bearer: 192 random bits and their tag. */
export function newBearerToken(): string {
  const random = randomBytes(RANDOM_CHARACTERS * 3 / 4).toString('base64url')
  return random + createHash('sha256').update(TAG_LABEL + random).digest().subarray(0, TAG_BYTES).toString('base64url')
}

/** Whether text[start, start + BEARER_LENGTH), base64url characters, ends in the tag of its first 32. */
function isTagged(text: string, start: number): boolean {
  // The one-shot hash to a string: a createHash object, or a Buffer out, cost several times more.
  const digest = hash('sha256', TAG_LABEL + text.slice(start, start + RANDOM_CHARACTERS), 'base64url')
  const tag = start + RANDOM_CHARACTERS
  // 8 bytes are 10 characters and the first 4 bits of an 11th, whose last 2 bits are padding
  // (not compared: a spelling with stray padding bits is the same bytes).
  for (let k = 0; k < 10; k++) if (digest.charCodeAt(k) !== text.charCodeAt(tag + k)) return false
  return (VALUE[digest.charCodeAt(10)] as number) >> 2 === (VALUE[text.charCodeAt(tag + 10)] as number) >> 2
}

/**
 * Whether `text` holds a bearer this release issued: a run of exactly 43 base64url characters,
 * delimited by the text's ends or characters outside [A-Za-z0-9_-], that carries its tag. One pass;
 * only runs of that exact length are hashed, so a long run costs no more than its characters.
 */
export function carriesGatewayBearer(text: string): boolean {
  const n = text.length
  if (n < BEARER_LENGTH) return false
  let start = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c < 128 && (VALUE[c] as number) >= 0) continue
    if (i - start === BEARER_LENGTH && isTagged(text, start)) return true
    start = i + 1
    if (n - start < BEARER_LENGTH) return false
  }
  return n - start === BEARER_LENGTH && isTagged(text, start)
}
