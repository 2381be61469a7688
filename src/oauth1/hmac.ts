/**
 * HMAC (RFC 2104) for a key that signs request after request: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)),
 * the key's two padded blocks made once and each hash one call of `crypto.hash`. The same bytes
 * as `createHmac(digest, key).update(m, 'utf8').digest('base64')`, for about half its CPU: the
 * Hmac object (a stream transform with its options and state) cost more than the two hashes.
 */
import { createHmac, hash } from 'node:crypto'

/** The digests HMAC-* signature methods use. */
export type HmacDigest = 'sha1' | 'sha256' | 'sha512'

/** A base64 HMAC of a message under one key. */
export type KeyedHmac = (message: string) => string

const BLOCK_BYTES: { readonly [D in HmacDigest]: number } = { sha1: 64, sha256: 64, sha512: 128 }
const DIGEST_BYTES: { readonly [D in HmacDigest]: number } = { sha1: 20, sha256: 32, sha512: 64 }

// Shared by every key (signing is synchronous): the inner block and message, the outer block and inner digest.
const SCRATCH_BYTES = 16 * 1024
const innerScratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
const outerScratch = Buffer.allocUnsafeSlow(128 + 64)

/** `key`'s HMAC with `digest`; a message too long for the scratch buffer takes createHmac. */
export function keyedHmac(digest: HmacDigest, key: string): KeyedHmac {
  const block = BLOCK_BYTES[digest]
  const keyBytes = Buffer.from(key, 'utf8')
  // RFC 2104 §2: a key longer than the block is hashed first; a shorter one is padded with zeros.
  const k = Buffer.alloc(block)
  ;(keyBytes.length > block ? hash(digest, keyBytes, 'buffer') : keyBytes).copy(k)
  const ipad = Buffer.allocUnsafe(block)
  const opad = Buffer.allocUnsafe(block)
  for (let i = 0; i < block; i++) {
    ipad[i] = (k[i] as number) ^ 0x36
    opad[i] = (k[i] as number) ^ 0x5c
  }
  const outerLength = block + DIGEST_BYTES[digest]
  // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair 4 for 2 units).
  const maxChars = Math.floor((SCRATCH_BYTES - block) / 3)
  return (message) => {
    if (message.length > maxChars) return createHmac(digest, keyBytes).update(message, 'utf8').digest('base64')
    innerScratch.set(ipad, 0)
    const n = innerScratch.write(message, block, 'utf8')
    const inner = hash(digest, innerScratch.subarray(0, block + n), 'binary') // latin1
    outerScratch.set(opad, 0)
    outerScratch.write(inner, block, 'binary')
    return hash(digest, outerScratch.subarray(0, outerLength), 'base64')
  }
}
