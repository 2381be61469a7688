import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'

/** One configured sealing key: 32 bytes of AES-256 key material under a short id. */
export interface SealKey {
  id: string
  key: Buffer
}

/** Encrypts secrets before they reach a store; `aad` binds a sealed value to where it is stored. */
export interface Sealer {
  /** Id of the key new seals use. */
  readonly activeId: string
  /** `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts), AES-256-GCM under the active key. */
  seal(plaintext: string, aad?: string): string
  /** The plaintext, or a SealError: unknown key id, malformed, tampered or wrong AAD. */
  open(sealed: string, aad?: string): string
  /** Key id a sealed value names (e.g. to re-seal records still under a retired key). */
  keyIdOf(sealed: string): string
}

/** Why a sealed value could not be opened; the message never contains key material or plaintext. */
export type SealErrorCode = 'seal_malformed' | 'seal_unknown_key' | 'seal_unauthentic'

/** A sealed value that cannot be opened. */
export class SealError extends Error {
  readonly code: SealErrorCode
  constructor(code: SealErrorCode, message: string) {
    super(message)
    this.name = 'SealError'
    this.code = code
  }
}

/** `read()`, or undefined when it throws a SealError (a sealed value that does not open, or names no key). */
export function unlessSealError<R>(read: () => R): R | undefined {
  try {
    return read()
  } catch (e) {
    if (e instanceof SealError) return undefined
    throw e
  }
}

const VERSION = 'v1'
const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const KID = /^[A-Za-z0-9_-]{1,64}$/
const B64URL = /^[A-Za-z0-9_-]*$/

/** Builds a Sealer; every key can open, only `activeId` seals (rotation without re-encryption). */
export function createSealer(keys: readonly SealKey[], activeId: string): Sealer {
  const byId = new Map<string, KeyObject>()
  for (const { id, key } of keys) {
    if (!KID.test(id)) throw new TypeError(`seal key id "${id}" must be 1-64 characters of A-Z a-z 0-9 _ -`)
    if (byId.has(id)) throw new TypeError(`seal key id "${id}" is configured twice`)
    if (key.length !== KEY_BYTES) throw new TypeError(`seal key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`)
    // A KeyObject copies the bytes and keeps them out of util.inspect and JSON output.
    byId.set(id, createSecretKey(key))
  }
  const active = byId.get(activeId)
  if (active === undefined) throw new TypeError(`active seal key "${activeId}" is not among the configured keys`)

  return {
    activeId,
    seal: (plaintext, aad) => sealWith(activeId, active, plaintext, aad),
    open(sealed, aad) {
      const { kid, iv, ct, tag } = parseSealed(sealed)
      const key = byId.get(kid)
      if (key === undefined) throw new SealError('seal_unknown_key', `sealed with key "${kid}", which is not configured`)
      return openWith(kid, key, iv, ct, tag, aad)
    },
    keyIdOf: (sealed) => parseSealed(sealed).kid,
  }
}

function sealWith(kid: string, key: KeyObject, plaintext: string, aad: string | undefined): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(headerAad(kid, aad))
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [VERSION, kid, b64(iv), b64(ct), b64(cipher.getAuthTag())].join('.')
}

function openWith(kid: string, key: KeyObject, iv: Buffer, ct: Buffer, tag: Buffer, aad: string | undefined): string {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  decipher.setAAD(headerAad(kid, aad))
  decipher.setAuthTag(tag)
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8')
  } catch {
    // update() already decrypts and only final() checks the tag: nothing is returned unless both pass.
    throw new SealError(
      'seal_unauthentic',
      `sealed value under key "${kid}" failed authentication: tampered with, or read under another store key`,
    )
  }
}

/** The GCM AAD also covers version and key id, so no header field can be swapped unnoticed. */
function headerAad(kid: string, aad: string | undefined): Buffer {
  return Buffer.from(`${VERSION}.${kid}.${aad ?? ''}`, 'utf8')
}

function parseSealed(sealed: string): { kid: string; iv: Buffer; ct: Buffer; tag: Buffer } {
  const parts = typeof sealed === 'string' ? sealed.split('.') : []
  const [version, kid, iv, ct, tag] = parts
  if (parts.length !== 5 || version === undefined || kid === undefined || iv === undefined || ct === undefined || tag === undefined) {
    throw new SealError('seal_malformed', 'sealed value is malformed: expected v1.<kid>.<iv>.<ciphertext>.<tag>')
  }
  if (version !== VERSION) throw new SealError('seal_malformed', `sealed value has unsupported version "${version.slice(0, 8)}"`)
  if (!KID.test(kid) || ![iv, ct, tag].every((p) => B64URL.test(p))) {
    throw new SealError('seal_malformed', 'sealed value is malformed: bad key id or base64url part')
  }
  const ivBytes = Buffer.from(iv, 'base64url')
  const tagBytes = Buffer.from(tag, 'base64url')
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
    throw new SealError('seal_malformed', `sealed value under key "${kid}" is malformed: truncated IV or tag`)
  }
  return { kid, iv: ivBytes, ct: Buffer.from(ct, 'base64url'), tag: tagBytes }
}

function b64(buf: Buffer): string {
  return buf.toString('base64url')
}

/**
 * 32 bytes of key material from config text: 64 hex digits, or base64 / base64url
 * (padding optional). Errors say what is wrong with the length, never the text itself.
 */
export function parseSealKey(text: string): Buffer {
  const t = text.trim()
  let bytes: Buffer
  let form: string
  // Hex first: an even run of hex digits is never a 32-byte base64 key (that is 43-44 characters).
  if (/^(?:[0-9a-fA-F]{2})+$/.test(t)) {
    bytes = Buffer.from(t, 'hex')
    form = 'hex'
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t) && !(/[+/]/.test(t) && /[_-]/.test(t))) {
    bytes = Buffer.from(t.replace(/=+$/, ''), 'base64url')
    form = 'base64'
  } else {
    throw new TypeError(`seal key is neither hex nor base64 (need ${KEY_BYTES} bytes: 64 hex digits or 44 base64 characters)`)
  }
  if (bytes.length !== KEY_BYTES) {
    throw new TypeError(
      `seal key must be ${KEY_BYTES} bytes (64 hex digits or 44 base64 characters); the ${form} text decodes to ${bytes.length} bytes`,
    )
  }
  return bytes
}
