/**
 * One signer's §3.4.2 key, remembered across requests: `enc(consumer secret)&enc(token secret)`
 * for the last token secret seen (a static token's is the same on every request), and for
 * HMAC-* that key as a KeyObject once it signs a second time in a row.
 */
import { createSecretKey, type KeyObject } from 'node:crypto'
import { encodedOrLater } from './percent-encode.js'
import type { SignatureMethod } from './signature.js'

/** What computeSignature signs with for this token secret; undefined leaves the key to computeSignature. */
export type SigningKeyOf = (tokenSecret: string | undefined) => string | KeyObject | undefined

/** The key cache of one signer's consumer secret and signature method. */
export function createSigningKeyCache(statics: { readonly consumerSecret?: string | undefined; readonly signatureMethod: SignatureMethod }): SigningKeyOf {
  const encConsumerSecret = encodedOrLater(statics.consumerSecret)
  const hmacOrPlaintext = /^(HMAC-|PLAINTEXT$)/.test(statics.signatureMethod)
  const hmac = statics.signatureMethod.startsWith('HMAC-')
  let lastTokenSecret: string | undefined
  let lastKey: string | undefined
  // lastKey as a KeyObject for HMAC, made once the same key signs a second time in a row (a
  // static token): createHmac converts and copies a string key on every call, while making
  // a KeyObject for a key used once (users' tokens taking turns) costs more than that.
  let lastHmacKey: KeyObject | undefined
  let lastKeyUses = 0
  // §3.4.2 key; undefined leaves it to computeSignature (no secret, or one percentEncode refuses).
  const key = (tokenSecret: string | undefined): string | undefined => {
    if (!hmacOrPlaintext || encConsumerSecret === undefined) return undefined
    const secret = tokenSecret ?? ''
    if (secret !== lastTokenSecret || lastKey === undefined) {
      const enc = encodedOrLater(secret)
      if (enc === undefined) return undefined
      lastKey = `${encConsumerSecret}&${enc}`
      lastHmacKey = undefined
      lastKeyUses = 0
      lastTokenSecret = secret
    }
    return lastKey
  }
  // What computeSignature signs with: for HMAC-* a key in use again, as a KeyObject.
  return (tokenSecret) => {
    const k = key(tokenSecret)
    if (k === undefined || !hmac || lastKeyUses++ === 0) return k
    return (lastHmacKey ??= createSecretKey(Buffer.from(k, 'utf8')))
  }
}
