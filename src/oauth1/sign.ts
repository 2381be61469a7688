/**
 * Signs one HTTP request per RFC 5849 §3.1–3.5 and says where the protocol parameters go.
 * Pure apart from the nonce and clock, which callers can fix for tests and the CLI.
 */
import { randomFillSync, type KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { collectParameters, signatureBaseString } from './base-string.js'
import { formEncode, isFormContentType, percentEncode, type Param } from './percent-encode.js'
import { computeBodyHash, computeSignature, type SignatureMethod } from './signature.js'

/** Where the protocol parameters travel: §3.5.1 header, §3.5.2 form body, §3.5.3 query. */
export type Placement = 'header' | 'query' | 'body'

/** Every Placement, for CLI choices and config validation. */
export const PLACEMENTS: readonly Placement[] = ['header', 'query', 'body']

/** What to sign and with which credentials. */
export interface SignInput {
  method: string
  /** A URL object is used as is (not copied) unless signing must change it (a fragment, query placement). */
  url: string | URL
  /** Content-Type of the body; form-encoded bodies are signed as parameters (§3.4.1.3.1). */
  contentType?: string
  body?: Buffer | string
  consumerKey: string
  /** Required for HMAC-* and PLAINTEXT; unused by RSA-*. */
  consumerSecret?: string
  token?: string
  tokenSecret?: string
  signatureMethod: SignatureMethod
  /** PEM string or KeyObject; required for RSA-*. */
  privateKey?: KeyObject | string
  /** Header-only attribute (§3.5.1); not signed, and dropped for query and body placement. */
  realm?: string
  /** `oauth_callback` (§2.1); use `oob` for out-of-band. */
  callback?: string
  /** `oauth_verifier` (§2.3). */
  verifier?: string
  /** Further `oauth_*` protocol parameters; must not repeat one the signer sets. */
  extraOAuthParams?: Record<string, string>
  /** Adds `oauth_version=1.0` (optional per §3.1; some providers insist on it). */
  includeVersion?: boolean
  /** Adds `oauth_body_hash` (body-hash draft) unless the body is form-encoded. */
  bodyHash?: boolean
  placement: Placement
  /** Fixed nonce; by default 12 random bytes as 24 hex digits. */
  nonce?: string
  /** Fixed timestamp (decimal seconds); by default the current Unix time. */
  timestamp?: string
}

/** The signed request's pieces. */
export interface SignResult {
  baseString: string
  signature: string
  /** Protocol parameters in transmission order, `oauth_signature` last; realm not included. */
  oauthParams: Readonly<Record<string, string>>
  /** For header placement: the full `Authorization` header value. */
  authorizationHeader?: string
  /** The request URL to send: for query placement with the protocol parameters appended. */
  url: string
  /** For body placement: the form body to send, protocol parameters appended. */
  body?: string
}

const NONCE_BYTES = 12
const noncePool = Buffer.alloc(NONCE_BYTES * 256)
let noncePos = noncePool.length

/**
 * Nonce: 96 random bits as 24 hex digits. Hex rather than base64url and 24 rather than 32
 * characters because stock python-oauthlib validators accept only [A-Za-z0-9] nonces of
 * 20–30 characters, and 96 bits already make a repeat within a timestamp negligible.
 */
function newNonce(): string {
  // One CSPRNG call per 256 nonces: a call per request cost as much as the HMAC itself.
  if (noncePos === noncePool.length) {
    randomFillSync(noncePool)
    noncePos = 0
  }
  const nonce = noncePool.toString('hex', noncePos, noncePos + NONCE_BYTES)
  noncePos += NONCE_BYTES
  return nonce
}

function protocolParams(input: SignInput, formBody: boolean): Record<string, string> {
  const p: Record<string, string> = { oauth_consumer_key: input.consumerKey }
  if (input.token !== undefined) p.oauth_token = input.token
  p.oauth_signature_method = input.signatureMethod
  p.oauth_timestamp = input.timestamp ?? String(Math.floor(Date.now() / 1000))
  p.oauth_nonce = input.nonce ?? newNonce()
  if (input.callback !== undefined) p.oauth_callback = input.callback
  if (input.verifier !== undefined) p.oauth_verifier = input.verifier
  if (input.includeVersion === true) p.oauth_version = '1.0'
  // The draft forbids a body hash on form-encoded bodies: those are already signed as parameters.
  if (input.bodyHash === true && !formBody) p.oauth_body_hash = computeBodyHash(input.signatureMethod, input.body)
  for (const [name, value] of Object.entries(input.extraOAuthParams ?? {})) {
    if (!name.startsWith('oauth_')) throw new TypeError(`extraOAuthParams: "${name}" is not an oauth_ parameter`)
    if (name in p || name === 'oauth_signature') throw new TypeError(`extraOAuthParams: "${name}" is set by the signer`)
    p[name] = value
  }
  return p
}

/**
 * §3.5.1: `OAuth realm="…", name="enc(value)", …`. The realm is not a protocol parameter:
 * item 5 defers to RFC 2617, so it is a plain quoted-string (`"` and `\` escaped), not
 * percent-encoded — `realm="Photos Inc."`, as providers compare it.
 */
function authorizationHeader(realm: string | undefined, params: Readonly<Record<string, string>>): string {
  const parts: string[] = []
  if (realm !== undefined) parts.push(`realm="${realm.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`)
  for (const [name, value] of Object.entries(params)) parts.push(`${percentEncode(name)}="${percentEncode(value)}"`)
  return `OAuth ${parts.join(', ')}`
}

function bodyText(body: Buffer | string | undefined): string {
  if (body === undefined) return ''
  return typeof body === 'string' ? body : body.toString('utf8')
}

function appendForm(existing: string, pairs: Param[]): string {
  const added = formEncode(pairs)
  return existing === '' ? added : `${existing}&${added}`
}

/** Signs a request; throws TypeError on misuse, GatewayError('unsupported_payload') for body placement of a non-form body. */
export function signRequest(input: SignInput): SignResult {
  const url = typeof input.url === 'string' || input.url.hash !== '' || input.placement === 'query' ? new URL(input.url) : input.url
  if (url.hash !== '') url.hash = '' // never sent, never signed
  const formBody = isFormContentType(input.contentType)
  if (input.placement === 'body' && !formBody) {
    throw new GatewayError(
      'unsupported_payload',
      `OAuth parameters can go in the body only of an application/x-www-form-urlencoded request, not "${input.contentType ?? 'no content type'}"`,
    )
  }
  const params = protocolParams(input, formBody)
  const collected = collectParameters({ url, oauthParams: params, contentType: input.contentType, body: input.body })
  const baseString = signatureBaseString(input.method, url, collected)
  const signature = computeSignature(input.signatureMethod, baseString, input)
  const oauthParams: Readonly<Record<string, string>> = Object.freeze({ ...params, oauth_signature: signature })
  const pairs: Param[] = Object.entries(oauthParams)
  switch (input.placement) {
    case 'header':
      return { baseString, signature, oauthParams, authorizationHeader: authorizationHeader(input.realm, oauthParams), url: url.href }
    case 'query':
      url.search = appendForm(url.search.slice(1), pairs)
      return { baseString, signature, oauthParams, url: url.href }
    case 'body':
      return { baseString, signature, oauthParams, url: url.href, body: appendForm(bodyText(input.body), pairs) }
    default:
      throw new TypeError(`unknown OAuth parameter placement ${String(input.placement)}`)
  }
}
