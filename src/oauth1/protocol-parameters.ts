/**
 * RFC 5849 §3.1: one request's protocol parameters in transmission order, kept twice — decoded
 * by name (what the signed result shows) and encoded by position (§3.4.1.3.2), where the
 * encodings known before the URL check (the signer's fixed values, generated nonces and
 * timestamps) are filled in at once and the rest after it, where they always were.
 */
import { randomFillSync } from 'node:crypto'
import { percentEncode } from './percent-encode.js'
import { computeBodyHash, type SignatureMethod } from './signature.js'

/** Decoded protocol parameters by name, in transmission order. */
export type ProtocolValues = Record<string, string>
/** Their encodings by position; undefined: to be encoded by encodeProtocolParameters. */
export type ProtocolEncodings = (string | undefined)[]

/** What the signer fixes for every request, with the signature method's encoding made once. */
export interface ProtocolStatics {
  readonly statics: { readonly signatureMethod: SignatureMethod; readonly includeVersion?: boolean | undefined; readonly bodyHash?: boolean | undefined }
  readonly encSignatureMethod: string | undefined
}

/** What each request brings. */
export interface ProtocolRequest {
  readonly token?: string | undefined
  readonly timestamp?: string | undefined
  readonly nonce?: string | undefined
  readonly callback?: string | undefined
  readonly verifier?: string | undefined
  readonly body?: Buffer | string | undefined
}

const NONCE_BYTES = 12
const NONCE_DIGITS = 2 * NONCE_BYTES
const noncePool = Buffer.alloc(NONCE_BYTES * 256)
// The pool as hex digits, made once per fill: a nonce is a slice of it (V8 keeps a slice as a view).
let nonceDigits = ''
let noncePos = 0

/**
 * Nonce: 96 random bits as 24 hex digits. Hex rather than base64url and 24 rather than 32
 * characters because stock python-oauthlib validators accept only [A-Za-z0-9] nonces of
 * 20–30 characters, and 96 bits already make a repeat within a timestamp negligible.
 */
export function newNonce(): string {
  // One CSPRNG call and one hex conversion per 256 nonces: a call per request cost as much as the
  // HMAC itself, and a conversion per request five times what slicing the converted pool costs.
  // Each nonce is its own 24 digits of the pool, never handed out twice.
  if (noncePos === nonceDigits.length) {
    randomFillSync(noncePool)
    nonceDigits = noncePool.toString('hex')
    noncePos = 0
  }
  const nonce = nonceDigits.slice(noncePos, noncePos + NONCE_DIGITS)
  noncePos += NONCE_DIGITS
  return nonce
}

/** The current Unix time in decimal seconds, the generated `oauth_timestamp`. */
export function currentTimestamp(): string {
  return String(Math.floor(Date.now() / 1000))
}

/**
 * Adds the signer's own parameters after `oauth_consumer_key` (already in `p` and `enc`):
 * token, signature method, timestamp, nonce, callback, verifier, version, body hash.
 */
export function addProtocolParameters(p: ProtocolValues, enc: ProtocolEncodings, r: ProtocolRequest, s: ProtocolStatics, formBody: boolean): void {
  const { statics } = s
  if (r.token !== undefined) {
    p.oauth_token = r.token
    enc.push(undefined)
  }
  p.oauth_signature_method = statics.signatureMethod
  enc.push(s.encSignatureMethod)
  // Generated timestamps (digits) and nonces (hex) are unreserved: their own encoding.
  const timestamp = r.timestamp ?? currentTimestamp()
  p.oauth_timestamp = timestamp
  enc.push(r.timestamp === undefined ? timestamp : undefined)
  const nonce = r.nonce ?? newNonce()
  p.oauth_nonce = nonce
  enc.push(r.nonce === undefined ? nonce : undefined)
  addOptionalParameters(p, enc, r, statics, formBody)
}

function addOptionalParameters(p: ProtocolValues, enc: ProtocolEncodings, r: ProtocolRequest, statics: ProtocolStatics['statics'], formBody: boolean): void {
  if (r.callback !== undefined) {
    p.oauth_callback = r.callback
    enc.push(undefined)
  }
  if (r.verifier !== undefined) {
    p.oauth_verifier = r.verifier
    enc.push(undefined)
  }
  if (statics.includeVersion === true) {
    p.oauth_version = '1.0'
    enc.push('1.0')
  }
  // The draft forbids a body hash on form-encoded bodies: those are already signed as parameters.
  if (statics.bodyHash === true && !formBody) {
    p.oauth_body_hash = computeBodyHash(statics.signatureMethod, r.body)
    enc.push(undefined)
  }
}

/** Adds further `oauth_*` parameters; TypeError for a name outside `oauth_` or one the signer sets. */
export function addExtraOAuthParams(p: ProtocolValues, enc: ProtocolEncodings, extra: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(extra)) {
    if (!name.startsWith('oauth_')) throw new TypeError(`extraOAuthParams: "${name}" is not an oauth_ parameter`)
    if (name in p || name === 'oauth_signature') throw new TypeError(`extraOAuthParams: "${name}" is set by the signer`)
    p[name] = extra[name] as string
    enc.push(undefined)
  }
}

/**
 * Completes `enc` in place and returns the encoded names in transmission order, pushing each
 * pair onto `names`/`values` as well (§3.4.1.3.1). The first `known` names are the signer's
 * own, all unreserved; an extension's name may need encoding. `encToken` keeps the last
 * token's encoding.
 */
export function encodeProtocolParameters(p: ProtocolValues, enc: ProtocolEncodings, known: number, encToken: (s: string) => string, names: string[], values: string[]): string[] {
  const protocolNames = Object.keys(p)
  for (let i = 0; i < protocolNames.length; i++) {
    const name = protocolNames[i] as string
    const value = p[name] as string
    const encoded = enc[i] ?? (name === 'oauth_token' ? encToken(value) : percentEncode(value))
    enc[i] = encoded
    const encodedName = i < known ? name : percentEncode(name)
    protocolNames[i] = encodedName
    names.push(encodedName)
    values.push(encoded)
  }
  return protocolNames
}
