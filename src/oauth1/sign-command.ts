/**
 * `mtls-gateway oauth1 sign`: a debugging aid that prints what the signer would send, so an
 * operator can diff it against a provider's own example or error message.
 */
import { readFileSync } from 'node:fs'
import { signRequest, type Placement } from './sign.js'
import type { SignatureMethod } from './signature.js'

/** The command's flags, already parsed (the CLI layer validates the enum-like ones). */
export interface SignCommandOptions {
  method: string
  url: string
  body?: string
  contentType?: string
  consumerKey: string
  consumerSecret?: string
  token?: string
  tokenSecret?: string
  signatureMethod: SignatureMethod
  /** Path of a PEM private key, for RSA-*. */
  keyFile?: string
  placement: Placement
  realm?: string
  callback?: string
  verifier?: string
  includeVersion?: boolean
  bodyHash?: boolean
  nonce?: string
  timestamp?: string
}

/** Reads a key file; injectable so the command stays testable without touching the disk. */
export type ReadKeyFile = (path: string) => string

const readUtf8: ReadKeyFile = (path) => readFileSync(path, 'utf8')

/** Signs per the options and returns the report text (no trailing newline); throws like signRequest. */
export function runSignCommand(opts: SignCommandOptions, readKeyFile: ReadKeyFile = readUtf8): string {
  const result = signRequest({
    method: opts.method,
    url: opts.url,
    contentType: opts.contentType,
    body: opts.body,
    consumerKey: opts.consumerKey,
    consumerSecret: opts.consumerSecret,
    token: opts.token,
    tokenSecret: opts.tokenSecret,
    signatureMethod: opts.signatureMethod,
    privateKey: opts.keyFile === undefined ? undefined : readKeyFile(opts.keyFile),
    realm: opts.realm,
    callback: opts.callback,
    verifier: opts.verifier,
    includeVersion: opts.includeVersion,
    bodyHash: opts.bodyHash,
    placement: opts.placement,
    nonce: opts.nonce,
    timestamp: opts.timestamp,
  })
  const baseStringLabel =
    opts.signatureMethod === 'PLAINTEXT' ? 'Signature base string (not used by PLAINTEXT):' : 'Signature base string:'
  const lines = [
    baseStringLabel,
    result.baseString,
    '',
    `Signature (${opts.signatureMethod}):`,
    result.signature,
    '',
    'Protocol parameters:',
    ...Object.entries(result.oauthParams).map(([name, value]) => `  ${name}=${value}`),
    '',
  ]
  if (result.authorizationHeader !== undefined) {
    lines.push('Authorization header:', `Authorization: ${result.authorizationHeader}`, '', 'URL:', result.url)
  } else if (result.body !== undefined) {
    lines.push('URL:', result.url, '', 'Signed body:', result.body)
  } else {
    lines.push('Signed URL:', result.url)
  }
  return lines.join('\n')
}
