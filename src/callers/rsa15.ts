/**
 * RSA1_5 JWE decryption, the one place the gateway does JWE by hand: jose 6 has no RSA1_5,
 * and Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809) unless started with
 * --security-revert, which we never do. The content key is unwrapped with node-forge; the
 * content is decrypted with node:crypto. RFC 7516 §11.5: a padding failure is never reported
 * as such; decryption continues with a random key, so it fails exactly like a bad tag.
 */
import { createDecipheriv, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'
import type Forge from 'node-forge'
import { loadForge } from '../tls/index.js'

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

// forge wants its own key form; convert once per gateway key, lazily (RSA1_5 is rarely on).
const forgeKeys = new WeakMap<KeyObject, Forge.pki.rsa.PrivateKey>()

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
  let cek: Buffer | undefined
  try {
    cek = Buffer.from(forgeKey(key).decrypt(ek.toString('binary'), 'RSAES-PKCS1-V1_5'), 'binary')
  } catch {
    cek = undefined
  }
  return cek !== undefined && cek.length === size ? cek : fallback
}

function forgeKey(key: KeyObject): Forge.pki.rsa.PrivateKey {
  let fk = forgeKeys.get(key)
  if (fk === undefined) {
    fk = loadForge().pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }).toString())
    forgeKeys.set(key, fk)
  }
  return fk
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
