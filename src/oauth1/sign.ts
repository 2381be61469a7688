/**
 * Signs one HTTP request per RFC 5849 §3.1–3.5 and says where the protocol parameters go.
 * Pure apart from the nonce and clock, which callers can fix for tests and the CLI.
 */
import { createSecretKey, randomFillSync, type KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { formDecode, isFormContentType, percentEncode } from './percent-encode.js'
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
  /** For query placement: that URL as the object the signer appended to (its own copy), so a caller needs no second parse. */
  queryUrl?: URL
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

/** What one profile signs every request with: fixed for the signer's life. */
export type SignerStatics = Pick<SignInput, 'consumerKey' | 'consumerSecret' | 'signatureMethod' | 'privateKey' | 'realm' | 'includeVersion' | 'bodyHash' | 'placement'>

/** What changes from request to request. */
export type SignRequestInput = Omit<SignInput, keyof SignerStatics>

/** Signs requests for one set of statics; the same output as signRequest with those statics. */
export interface Signer {
  sign(request: SignRequestInput): SignResult
}

/** RFC 2617 quoted-string content: controls dropped, `"` and `\` escaped (see authorizationHeader). */
function quotedRealm(realm: string): string {
  return `realm="${realm.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`
}

/** The encoding, or undefined where percentEncode throws: the throw then happens where it always did. */
function encodedOrLater(s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  try {
    return percentEncode(s)
  } catch {
    return undefined
  }
}

/**
 * §3.4.1.3.2 on already-encoded pairs, and the result encoded once more for the base string:
 * the encoded strings hold only unreserved characters and `%XX`, so encoding `name=value&…`
 * again turns exactly `%`, `=` and `&` into `%25`, `%3D` and `%26` — what percentEncode of the
 * joined string gives, without building it and scanning it again.
 */
function encodedNormalizedParameters(names: string[], values: string[]): string {
  const order = names.map((_, i) => i)
  const before = (a: number, b: number): number => compareAscii(names[a] as string, names[b] as string) || compareAscii(values[a] as string, values[b] as string)
  if (order.length > 24) {
    order.sort(before)
  } else {
    // A request has a handful of parameters: a stable insertion sort without sort()'s per-call setup.
    for (let i = 1; i < order.length; i++) {
      const x = order[i] as number
      let j = i - 1
      for (; j >= 0 && before(order[j] as number, x) > 0; j--) order[j + 1] = order[j] as number
      order[j + 1] = x
    }
  }
  let out = ''
  for (const i of order) {
    const name = names[i] as string
    const value = values[i] as string
    out += `${out === '' ? '' : '%26'}${name.includes('%') ? name.replaceAll('%', '%25') : name}%3D${value.includes('%') ? value.replaceAll('%', '%25') : value}`
  }
  return out
}

function compareAscii(a: string, b: string): number {
  // Encoded strings are pure ASCII, so UTF-16 code-unit order is the byte order §3.4.1.3.2 asks for.
  return a < b ? -1 : a > b ? 1 : 0
}

const UNRESERVED = /^[A-Za-z0-9._~-]*$/

/**
 * §3.4.1.3.1 for a query string or form body: each pair decoded, `oauth_signature` dropped,
 * then encoded (§3.4.1.3.2). A raw name or value of unreserved characters only decodes and
 * encodes to itself, so most skip both.
 */
function addFormParameters(text: string, names: string[], values: string[]): void {
  for (const part of text.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const rawName = eq === -1 ? part : part.slice(0, eq)
    const rawValue = eq === -1 ? '' : part.slice(eq + 1)
    const plainName = UNRESERVED.test(rawName)
    const name = plainName ? rawName : formDecode(rawName)
    if (name === 'oauth_signature') continue
    names.push(plainName ? rawName : percentEncode(name))
    values.push(UNRESERVED.test(rawValue) ? rawValue : percentEncode(formDecode(rawValue)))
  }
}

/** percentEncode that keeps the last value's encoding: a profile's requests mostly repeat it. */
function lastEncoding(): (s: string) => string {
  let last: string | undefined
  let encoded = ''
  return (s) => {
    if (s !== last) {
      encoded = percentEncode(s) // throws (a lone surrogate) before anything is kept
      last = s
    }
    return encoded
  }
}

/**
 * Precomputes what is the same on every request of one profile (encoded consumer key,
 * signature method and consumer secret, the quoted realm) and remembers the last token's
 * encodings, so a request encodes only what is its own.
 */
export function createSigner(statics: SignerStatics): Signer {
  const encConsumerKey = encodedOrLater(statics.consumerKey)
  const encSignatureMethod = encodedOrLater(statics.signatureMethod)
  const encConsumerSecret = encodedOrLater(statics.consumerSecret)
  const realm = statics.realm === undefined ? undefined : quotedRealm(statics.realm)
  const hmacOrPlaintext = /^(HMAC-|PLAINTEXT$)/.test(statics.signatureMethod)
  const hmac = statics.signatureMethod.startsWith('HMAC-')
  // The last token and token secret seen, encoded: a static token is the same on every request.
  let lastTokenSecret: string | undefined
  let lastKey: string | undefined
  // lastKey as a KeyObject for HMAC, made once the same key signs a second time in a row (a
  // static token): createHmac converts and copies a string key on every call, while making
  // a KeyObject for a key used once (users' tokens taking turns) costs more than that.
  let lastHmacKey: KeyObject | undefined
  let lastKeyUses = 0
  // The origin (`scheme://host[:port]`), path and token repeat from request to request.
  const encOrigin = lastEncoding()
  const encPath = lastEncoding()
  const encToken = lastEncoding()
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
  const signingKeyOf = (tokenSecret: string | undefined): string | KeyObject | undefined => {
    const k = key(tokenSecret)
    if (k === undefined || !hmac || lastKeyUses++ === 0) return k
    return (lastHmacKey ??= createSecretKey(Buffer.from(k, 'utf8')))
  }
  return {
    sign(r) {
      const url = typeof r.url === 'string' || r.url.hash !== '' || statics.placement === 'query' ? new URL(r.url) : r.url
      if (url.hash !== '') url.hash = '' // never sent, never signed
      const formBody = isFormContentType(r.contentType)
      if (statics.placement === 'body' && !formBody) {
        throw new GatewayError(
          'unsupported_payload',
          `OAuth parameters can go in the body only of an application/x-www-form-urlencoded request, not "${r.contentType ?? 'no content type'}"`,
        )
      }
      // §3.1 protocol parameters in transmission order (decoded); `enc` holds the encodings known
      // already (undefined: encoded below, after the URL check, where it always was).
      const p: Record<string, string> = { oauth_consumer_key: statics.consumerKey }
      const enc: (string | undefined)[] = [encConsumerKey]
      if (r.token !== undefined) {
        p.oauth_token = r.token
        enc.push(undefined)
      }
      p.oauth_signature_method = statics.signatureMethod
      enc.push(encSignatureMethod)
      // Generated timestamps (digits) and nonces (hex) are unreserved: their own encoding.
      const timestamp = r.timestamp ?? String(Math.floor(Date.now() / 1000))
      p.oauth_timestamp = timestamp
      enc.push(r.timestamp === undefined ? timestamp : undefined)
      const nonce = r.nonce ?? newNonce()
      p.oauth_nonce = nonce
      enc.push(r.nonce === undefined ? nonce : undefined)
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
      const known = enc.length // the names so far are the signer's own, all unreserved
      if (r.extraOAuthParams !== undefined) {
        for (const name of Object.keys(r.extraOAuthParams)) {
          if (!name.startsWith('oauth_')) throw new TypeError(`extraOAuthParams: "${name}" is not an oauth_ parameter`)
          if (name in p || name === 'oauth_signature') throw new TypeError(`extraOAuthParams: "${name}" is set by the signer`)
          p[name] = r.extraOAuthParams[name] as string
          enc.push(undefined)
        }
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`OAuth 1.0 signs http and https requests only, not "${url.protocol}"`)
      }
      // §3.4.1.3.1: query, protocol and form-body parameters, encoded (§3.4.1.3.2).
      const names: string[] = []
      const values: string[] = []
      const search = url.search
      if (search.length > 1) addFormParameters(search.slice(1), names, values)
      const protocolNames = Object.keys(p)
      const protocolValues: string[] = []
      for (let i = 0; i < protocolNames.length; i++) {
        const name = protocolNames[i] as string
        const value = p[name] as string
        const encoded = enc[i] ?? (name === 'oauth_token' ? encToken(value) : percentEncode(value))
        protocolValues.push(encoded)
        // An extension's name may need encoding.
        const encodedName = i < known ? name : percentEncode(name)
        protocolNames[i] = encodedName
        names.push(encodedName)
        values.push(encoded)
      }
      if (r.body !== undefined && formBody) addFormParameters(typeof r.body === 'string' ? r.body : r.body.toString('utf8'), names, values)
      // §3.4.1: METHOD&enc(base string URI)&enc(normalized parameters); see baseStringUri for the URI.
      // Encoding works per character, so the origin (ASCII) and the path may be encoded apart.
      const baseString = `${percentEncode(r.method.toUpperCase())}&${encOrigin(`${url.protocol}//${url.host}`)}${encPath(url.pathname)}&${encodedNormalizedParameters(names, values)}`
      const signature = computeSignature(statics.signatureMethod, baseString, { consumerSecret: statics.consumerSecret, tokenSecret: r.tokenSecret, privateKey: statics.privateKey }, signingKeyOf(r.tokenSecret))
      p.oauth_signature = signature
      const oauthParams: Readonly<Record<string, string>> = Object.freeze(p)
      protocolNames.push('oauth_signature')
      // HMAC-* and RSA-* signatures are base64, whose only characters outside §3.6's unreserved set
      // are + / =: encodeURIComponent gives their %2B %2F %3D without percentEncode's second pass.
      protocolValues.push(statics.signatureMethod === 'PLAINTEXT' ? percentEncode(signature) : encodeURIComponent(signature))
      switch (statics.placement) {
        case 'header':
          return { baseString, signature, oauthParams, authorizationHeader: authorizationHeader(realm, protocolNames, protocolValues), url: url.href }
        case 'query':
          url.search = appendForm(url.search.slice(1), protocolNames, protocolValues)
          return { baseString, signature, oauthParams, url: url.href, queryUrl: url }
        case 'body':
          return { baseString, signature, oauthParams, url: url.href, body: appendForm(bodyText(r.body), protocolNames, protocolValues) }
        default:
          throw new TypeError(`unknown OAuth parameter placement ${String(statics.placement)}`)
      }
    },
  }
}

/**
 * §3.5.1: `OAuth realm="…", name="enc(value)", …`. The realm is not a protocol parameter:
 * item 5 defers to RFC 2617, so it is a plain quoted-string (`"` and `\` escaped), not
 * percent-encoded — `realm="Photos Inc."`, as providers compare it.
 */
function authorizationHeader(quotedRealm: string | undefined, names: readonly string[], values: readonly string[]): string {
  let header = quotedRealm === undefined ? 'OAuth ' : `OAuth ${quotedRealm}`
  for (let i = 0; i < names.length; i++) header += `${i === 0 && quotedRealm === undefined ? '' : ', '}${names[i] as string}="${values[i] as string}"`
  return header
}

function bodyText(body: Buffer | string | undefined): string {
  if (body === undefined) return ''
  return typeof body === 'string' ? body : body.toString('utf8')
}

/** §3.5.2/§3.5.3: `enc(name)=enc(value)` pairs appended to an existing query or form body. */
function appendForm(existing: string, names: readonly string[], values: readonly string[]): string {
  let added = ''
  for (let i = 0; i < names.length; i++) added += `${i === 0 ? '' : '&'}${names[i] as string}=${values[i] as string}`
  return existing === '' ? added : `${existing}&${added}`
}

/** Signs a request; throws TypeError on misuse, GatewayError('unsupported_payload') for body placement of a non-form body. */
export function signRequest(input: SignInput): SignResult {
  return createSigner(input).sign(input)
}
