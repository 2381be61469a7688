/**
 * `mtls-gateway oauth1 sign`: a debugging aid that prints what the signer would send, so an
 * operator can diff it against a provider's own example or error message — or, given a base
 * string, just its signature, so published primitive vectors can be checked too.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { GatewayError } from '../errors.js'
import { isFormContentType } from './percent-encode.js'
import { signRequest, type Placement, type SignResult } from './sign.js'
import { computeSignature, type SignatureMethod } from './signature.js'
import { encodeRawCharacters, unverifiableOctets } from './unverifiable-octets.js'

/** The command's flags, already parsed (the CLI layer validates the enum-like ones). */
export interface SignCommandOptions {
  method: string
  /** Required unless baseString is given. */
  url?: string
  body?: string | Buffer
  contentType?: string
  /** Required unless baseString is given. */
  consumerKey?: string
  consumerSecret?: string
  token?: string
  tokenSecret?: string
  signatureMethod: SignatureMethod
  /** Path of a PEM private key, for RSA-*. */
  keyFile?: string
  /** Passphrase of an encrypted keyFile. */
  keyPassphrase?: string
  placement: Placement
  realm?: string
  callback?: string
  verifier?: string
  /** Adds oauth_version=1.0 (see oauthVersion for any other value). */
  includeVersion?: boolean
  /** oauth_version with this exact value. */
  oauthVersion?: string
  /** Extension oauth_* protocol parameters (not ones the signer sets). */
  oauthParams?: Record<string, string>
  bodyHash?: boolean
  nonce?: string
  timestamp?: string
  /** Sign this signature base string as given (only the signature is computed). */
  baseString?: string
  /** Print JSON instead of the labelled text. */
  json?: boolean
}

/** Reads a key file; injectable so the command stays testable without touching the disk. */
export type ReadKeyFile = (path: string) => string

const readUtf8: ReadKeyFile = (path) => {
  try {
    return readFileSync(path, 'utf8')
  } catch (cause) {
    throw new Error(`--key-file ${path}: cannot read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
}

function privateKey(opts: SignCommandOptions, readKeyFile: ReadKeyFile): KeyObject | string | undefined {
  if (opts.keyFile === undefined) return undefined
  const pem = readKeyFile(opts.keyFile)
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(opts.keyPassphrase !== undefined ? { passphrase: opts.keyPassphrase } : {}) })
  } catch (cause) {
    const hint = opts.keyPassphrase === undefined ? ' (encrypted? give --key-passphrase)' : ' (or the passphrase is wrong)'
    throw new TypeError(`--key-file ${opts.keyFile}: not a readable PEM private key${hint}`, { cause })
  }
}

/** A SignResult, with the form body to send when the command re-encoded the caller's (header or query placement). */
type CommandResult = SignResult & { sentBody?: string }

/**
 * The gateway's rule: a query or form body whose octets verifiers read differently is not signed,
 * and raw characters RFC 3986 does not allow unencoded are sent (so signed) percent-encoded.
 */
function encodedForSigning(opts: SignCommandOptions): { url: string; body: string | Buffer | undefined } {
  const url = URL.canParse(opts.url ?? '') ? new URL(opts.url as string) : undefined
  const query = url !== undefined && url.search.length > 1 ? Buffer.from(url.search.slice(1), 'latin1') : undefined
  const form = opts.body !== undefined && isFormContentType(opts.contentType) ? Buffer.from(opts.body) : undefined
  const inQuery = query && unverifiableOctets(query)
  const found = inQuery ?? (form && unverifiableOctets(form, opts.contentType))
  if (found !== undefined) throw new GatewayError('unsupported_payload', `the ${inQuery ? 'query (--url)' : 'form body'} has ${found.what}, so no signature would verify everywhere: ${found.fix}`)
  const encodedQuery = query && encodeRawCharacters(query)
  if (url !== undefined && encodedQuery !== query) url.search = `?${(encodedQuery as Buffer).toString('latin1')}`
  const encodedForm = form && encodeRawCharacters(form)
  return { url: encodedQuery !== query ? (url as URL).href : (opts.url ?? ''), body: encodedForm !== form ? encodedForm : opts.body }
}

function signWhole(opts: SignCommandOptions, key: KeyObject | string | undefined): CommandResult {
  const sent = encodedForSigning(opts)
  // The `sign` command (not per request).
  const extra = { ...opts.oauthParams, ...(opts.oauthVersion !== undefined ? { oauth_version: opts.oauthVersion } : {}) }
  const result = signRequest({
    method: opts.method,
    url: sent.url,
    contentType: opts.contentType,
    body: sent.body,
    consumerKey: opts.consumerKey ?? '',
    consumerSecret: opts.consumerSecret,
    token: opts.token,
    tokenSecret: opts.tokenSecret,
    signatureMethod: opts.signatureMethod,
    privateKey: key,
    realm: opts.realm,
    callback: opts.callback,
    verifier: opts.verifier,
    extraOAuthParams: extra,
    includeVersion: opts.includeVersion === true && opts.oauthVersion === undefined,
    bodyHash: opts.bodyHash,
    placement: opts.placement,
    nonce: opts.nonce,
    timestamp: opts.timestamp,
  })
  // The form body it signed when that is not the signed body already (named before the spread, as object-shapes asks).
  return { sentBody: sent.body !== opts.body && result.body === undefined ? (sent.body as Buffer).toString('latin1') : undefined, ...result }
}

function formatText(opts: SignCommandOptions, result: CommandResult): string {
  const baseStringLabel =
    opts.signatureMethod === 'PLAINTEXT' ? 'Signature base string (not used by PLAINTEXT):' : 'Signature base string:'
  const lines = [baseStringLabel, result.baseString, '', `Signature (${opts.signatureMethod}):`, result.signature]
  if (opts.baseString !== undefined) return lines.join('\n')
  lines.push('', 'Protocol parameters:', ...Object.entries(result.oauthParams).map(([name, value]) => `  ${name}=${value}`), '')
  if (result.authorizationHeader !== undefined) {
    lines.push('Authorization header:', `Authorization: ${result.authorizationHeader}`, '', 'URL:', result.url)
  } else if (result.body !== undefined) {
    lines.push('URL:', result.url, '', 'Signed body:', result.body)
  } else {
    lines.push('Signed URL:', result.url)
  }
  if (result.sentBody !== undefined) lines.push('', 'Body (raw characters percent-encoded, as signed):', result.sentBody)
  return lines.join('\n')
}

/** Signs per the options and returns the report (text without trailing newline, or JSON); throws like signRequest. */
export function runSignCommand(opts: SignCommandOptions, readKeyFile: ReadKeyFile = readUtf8): string {
  const key = privateKey(opts, readKeyFile)
  const result: CommandResult =
    opts.baseString !== undefined
      ? { baseString: opts.baseString, signature: computeSignature(opts.signatureMethod, opts.baseString, { consumerSecret: opts.consumerSecret, tokenSecret: opts.tokenSecret, privateKey: key }), oauthParams: {}, url: '' }
      : signWhole(opts, key)
  if (opts.json !== true) return formatText(opts, result)
  if (opts.baseString !== undefined) return JSON.stringify({ signatureMethod: opts.signatureMethod, baseString: result.baseString, signature: result.signature }, null, 2)
  return JSON.stringify({ signatureMethod: opts.signatureMethod, ...result }, null, 2)
}
