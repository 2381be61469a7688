/**
 * RSA1_5 JWE decryption, the one place the gateway does JWE by hand: jose 6 has no RSA1_5,
 * and Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809) unless started with
 * --security-revert, which we never do. The content key is unwrapped by OpenSSL's raw RSA
 * (RSA_NO_PADDING: native and blinded) and unpadded here without early exits; node-forge's
 * JavaScript RSA took about 100 ms of the event loop per token, which anyone could send.
 * RFC 7516 §11.5: a padding failure is never reported as such; decryption continues with a
 * random key, so it fails exactly like a bad tag.
 */
import { constants, createDecipheriv, createHmac, privateDecrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'

/** The content encryptions the gateway accepts. */
export type ContentEncryption = 'A128CBC-HS256' | 'A128GCM' | 'A256GCM'

const CEK_BYTES: Readonly<Record<ContentEncryption, number>> = { 'A128CBC-HS256': 32, A128GCM: 16, A256GCM: 32 }
const B64URL = /^[A-Za-z0-9_-]*$/

/** The single error of this module: says nothing about which check failed. */
export class Rsa15DecryptError extends Error {
  constructor() {
    super('decryption failed')
    this.name = 'Rsa15DecryptError'
  }
}

/** Decrypts a compact RSA1_5 JWE whose header was already checked; returns the plaintext. */
export function decryptRsa15(compact: string, enc: ContentEncryption, key: KeyObject): Buffer {
  const parts = compact.split('.')
  if (parts.length !== 5 || !parts.every((p) => B64URL.test(p))) throw new Rsa15DecryptError()
  const [header = '', ek = '', iv = '', ct = '', tag = ''] = parts
  const cek = unwrapCek(Buffer.from(ek, 'base64url'), key, CEK_BYTES[enc])
  const aad = Buffer.from(header, 'ascii')
  const bytes = (s: string): Buffer => Buffer.from(s, 'base64url')
  return enc === 'A128CBC-HS256'
    ? decryptCbcHs256(cek, bytes(iv), bytes(ct), bytes(tag), aad)
    : decryptGcm(enc, cek, bytes(iv), bytes(ct), bytes(tag), aad)
}

function unwrapCek(ek: Buffer, key: KeyObject, size: number): Buffer {
  // Drawn before the RSA step so both paths do the same work.
  const fallback = randomBytes(size)
  let em: Buffer
  try {
    em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ek)
  } catch {
    // Not the modulus length, or not below the modulus: nothing secret about either.
    return fallback
  }
  return unpadCek(em, size, fallback)
}

/**
 * The CEK of EM = 00 02 PS 00 CEK (PS at least 8 non-zero bytes, CEK `size` bytes), else
 * `fallback`: every byte is judged and the result selected by a mask, so neither the time
 * taken nor the result tells which check failed. A well-padded key of another length fails too.
 */
export function unpadCek(em: Buffer, size: number, fallback: Buffer): Buffer {
  const sep = em.length - size - 1
  // The lengths are public (modulus and enc); only the bytes are secret.
  if (sep < 10 || fallback.length !== size) return fallback
  let bad = (em[0] ?? 1) | ((em[1] ?? 0) ^ 2) | (em[sep] ?? 1)
  // (b - 1) >> 8 is -1 only for b = 0: any zero byte in PS sets bad.
  for (let i = 2; i < sep; i++) bad |= ((em[i] ?? 0) - 1) >> 8
  const keep = (((bad | -bad) >> 31) & 0xff) ^ 0xff // 0xff when bad = 0, else 0
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i++) out[i] = ((em[sep + 1 + i] ?? 0) & keep) | ((fallback[i] ?? 0) & ~keep & 0xff)
  return out
}

// RFC 7518 §5.2.2.2: MAC key first, then ENC key; tag = first half of HMAC(AAD‖IV‖CT‖AL).
function decryptCbcHs256(cek: Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: Buffer): Buffer {
  if (iv.length !== 16 || tag.length !== 16) throw new Rsa15DecryptError()
  const al = Buffer.alloc(8)
  al.writeBigUInt64BE(BigInt(aad.length) * 8n)
  const mac = createHmac('sha256', cek.subarray(0, 16)).update(aad).update(iv).update(ct).update(al).digest()
  if (!timingSafeEqual(mac.subarray(0, 16), tag)) throw new Rsa15DecryptError()
  try {
    const decipher = createDecipheriv('aes-128-cbc', cek.subarray(16, 32), iv)
    return Buffer.concat([decipher.update(ct), decipher.final()])
  } catch {
    throw new Rsa15DecryptError()
  }
}

// RFC 7518 §5.3: 96-bit IV, 128-bit tag, the ASCII protected header as AAD.
function decryptGcm(enc: 'A128GCM' | 'A256GCM', cek: Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: Buffer): Buffer {
  if (iv.length !== 12 || tag.length !== 16) throw new Rsa15DecryptError()
  try {
    const cipher = enc === 'A128GCM' ? 'aes-128-gcm' : 'aes-256-gcm'
    const decipher = createDecipheriv(cipher, cek, iv, { authTagLength: 16 })
    decipher.setAAD(aad)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(ct), decipher.final()])
  } catch {
    throw new Rsa15DecryptError()
  }
}
