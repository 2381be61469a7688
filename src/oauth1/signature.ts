/**
 * The signature methods: RFC 5849 §3.4.2 HMAC-SHA1, §3.4.3 RSA-SHA1, §3.4.4 PLAINTEXT, plus
 * the common SHA-256/512 variants that differ only in the digest (as python-oauthlib has them).
 */
import { createHash, createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { percentEncode } from './percent-encode.js'

/** Every signature method the signer supports, for CLI choices and config validation. */
export const SIGNATURE_METHODS = [
  'HMAC-SHA1',
  'HMAC-SHA256',
  'HMAC-SHA512',
  'RSA-SHA1',
  'RSA-SHA256',
  'PLAINTEXT',
] as const

/** One of SIGNATURE_METHODS. */
export type SignatureMethod = (typeof SIGNATURE_METHODS)[number]

/** Narrows an untrusted string (CLI flag, config value) to a SignatureMethod. */
export function isSignatureMethod(s: string): s is SignatureMethod {
  return (SIGNATURE_METHODS as readonly string[]).includes(s)
}

type Digest = 'sha1' | 'sha256' | 'sha512'

const DIGEST: { readonly [M in SignatureMethod]: Digest } = {
  'HMAC-SHA1': 'sha1',
  'HMAC-SHA256': 'sha256',
  'HMAC-SHA512': 'sha512',
  'RSA-SHA1': 'sha1',
  'RSA-SHA256': 'sha256',
  // PLAINTEXT has no digest; SHA-1 is what the body-hash draft falls back to for it.
  PLAINTEXT: 'sha1',
}

/** The secrets or key a signature method needs. */
export interface SigningCredentials {
  readonly consumerSecret?: string
  readonly tokenSecret?: string
  readonly privateKey?: KeyObject | string
}

/** §3.4.2 key: `enc(consumer secret)&enc(token secret)`; the `&` stays even when both are empty. */
export function signingKey(consumerSecret: string, tokenSecret = ''): string {
  return `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`
}

function toRsaPrivateKey(method: SignatureMethod, key: KeyObject | string | undefined): KeyObject {
  if (key === undefined) throw new TypeError(`${method} needs privateKey (a PEM string or KeyObject)`)
  let keyObject: KeyObject
  try {
    keyObject = typeof key === 'string' ? createPrivateKey(key) : key
  } catch (cause) {
    throw new TypeError(`${method}: privateKey is not a readable unencrypted PEM private key`, { cause })
  }
  if (keyObject.type !== 'private' || keyObject.asymmetricKeyType !== 'rsa') {
    throw new TypeError(`${method} needs an RSA private key, got ${keyObject.asymmetricKeyType ?? 'a secret'} ${keyObject.type} key`)
  }
  return keyObject
}

/**
 * Signs a base string with the given method; the result is the base64 `oauth_signature` value.
 * `key`, when given, is `signingKey(creds.consumerSecret, creds.tokenSecret)` already computed
 * (a signer keeps it across requests); HMAC-* and PLAINTEXT use it instead of encoding again.
 * HMAC-* also takes it as a secret KeyObject of those UTF-8 bytes; PLAINTEXT only as the string.
 */
export function computeSignature(method: SignatureMethod, baseString: string, creds: SigningCredentials, key?: string | KeyObject): string {
  switch (method) {
    case 'HMAC-SHA1':
    case 'HMAC-SHA256':
    case 'HMAC-SHA512':
      return createHmac(DIGEST[method], key ?? signingKey(requireSecret(method, creds), creds.tokenSecret))
        .update(baseString, 'utf8')
        .digest('base64')
    case 'RSA-SHA1':
    case 'RSA-SHA256':
      // RSASSA-PKCS1-v1_5 is node's default padding for RSA keys (§3.4.3 via RFC 3447 §8.2).
      return sign(DIGEST[method], Buffer.from(baseString, 'utf8'), toRsaPrivateKey(method, creds.privateKey)).toString('base64')
    case 'PLAINTEXT':
      return typeof key === 'string' ? key : signingKey(requireSecret(method, creds), creds.tokenSecret)
    default:
      throw new TypeError(`unsupported OAuth signature method ${String(method)}`)
  }
}

function requireSecret(method: SignatureMethod, creds: SigningCredentials): string {
  if (creds.consumerSecret === undefined) throw new TypeError(`${method} needs consumerSecret`)
  return creds.consumerSecret
}

/**
 * OAuth Request Body Hash (draft-eaton-oauth-bodyhash): base64 of the body's digest. The draft
 * ties the hash to the signature method (SHA-1 for *-SHA1); we extend that rule to SHA-256 for
 * *-SHA256 and SHA-512 for HMAC-SHA512, and use SHA-1 for PLAINTEXT. No body hashes "".
 */
export function computeBodyHash(method: SignatureMethod, body: Buffer | string | undefined): string {
  return createHash(DIGEST[method])
    .update(body ?? '')
    .digest('base64')
}
