/**
 * `mtls-gateway oauth1 sign`: prints the signature base string, the signature and the
 * Authorization header (or signed URL/body) for one request, like Postman's OAuth 1.0
 * helper, so integration engineers can compare with what a provider expects.
 */
import { readFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { PLACEMENTS, runSignCommand, SIGNATURE_METHODS, type Placement, type SignatureMethod } from '../oauth1/index.js'
import { UsageError } from './options.js'

/** Protocol parameters with their own flag: --oauth-param may not set them. */
const OWN_FLAG: Record<string, string> = {
  oauth_consumer_key: '--consumer-key', oauth_token: '--token', oauth_signature_method: '--signature-method',
  oauth_timestamp: '--timestamp', oauth_nonce: '--nonce', oauth_callback: '--callback', oauth_verifier: '--verifier',
  oauth_version: '--oauth-version', oauth_body_hash: '--body-hash', oauth_signature: '(computed)',
}

function collectOAuthParam(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=')
  const name = eq < 0 ? value : value.slice(0, eq)
  if (eq < 1 || !name.startsWith('oauth_')) throw new UsageError(`--oauth-param ${value}: expected oauth_<name>=<value>`)
  if (name in OWN_FLAG) throw new UsageError(`--oauth-param ${name}: set it with ${OWN_FLAG[name] as string}`)
  return { ...previous, [name]: value.slice(eq + 1) }
}

interface SignFlags {
  url?: string; method: string; body?: string; bodyFile?: string; contentType?: string; consumerKey?: string
  consumerSecret?: string; token?: string; tokenSecret?: string; signatureMethod: SignatureMethod; keyFile?: string
  keyPassphrase?: string; placement: Placement; realm?: string; callback?: string; verifier?: string
  oauthVersion?: string | boolean; oauthParam?: Record<string, string>; bodyHash?: boolean; nonce?: string
  timestamp?: string; baseString?: string; json?: boolean
}

/** The checks commander cannot express, each naming its flag. */
function checkFlags(o: SignFlags): void {
  if (o.baseString === undefined) {
    if (o.url === undefined) throw new UsageError('--url is required (or --base-string to sign a given base string)')
    if (!URL.canParse(o.url) || !/^https?:$/.test(new URL(o.url).protocol)) throw new UsageError(`--url ${o.url}: not an absolute http(s) URL`)
    if (o.consumerKey === undefined) throw new UsageError('--consumer-key is required (or --base-string to sign a given base string)')
  }
  if (o.body !== undefined && o.bodyFile !== undefined) throw new UsageError('--body and --body-file: give one of them')
  if (o.signatureMethod.startsWith('RSA-') && o.keyFile === undefined) throw new UsageError(`--key-file is required with --signature-method ${o.signatureMethod}`)
  if (!o.signatureMethod.startsWith('RSA-') && o.consumerSecret === undefined) throw new UsageError(`--consumer-secret (or MTLS_GATEWAY_CONSUMER_SECRET) is required with --signature-method ${o.signatureMethod}`)
}

function readBody(file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (e) {
    throw new Error(`--body-file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e })
  }
}

/** Adds the `oauth1 sign` subcommand to `program`. */
export function addOAuth1Commands(program: Command): void {
  const oauth1 = program.command('oauth1').description('OAuth 1.0a helpers')
  oauth1
    .command('sign')
    .description('sign one request and print the base string, signature and Authorization header')
    .option('--url <url>', 'request URL (query included)')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('--body <text>', 'request body')
    .option('--body-file <file>', 'request body, read from this file (bytes as they are)')
    .option('--content-type <type>', 'body content type (form bodies are signed as parameters)')
    .option('--consumer-key <key>', 'consumer key')
    // Secrets also from the environment: a flag's value is visible to every local user in ps and stays in shell history.
    .addOption(new Option('--consumer-secret <secret>', 'consumer secret (HMAC-*, PLAINTEXT)').env('MTLS_GATEWAY_CONSUMER_SECRET'))
    .option('--token <token>', 'token')
    .addOption(new Option('--token-secret <secret>', 'token secret').env('MTLS_GATEWAY_TOKEN_SECRET'))
    .addOption(new Option('--signature-method <method>', 'signature method').choices([...SIGNATURE_METHODS]).default('HMAC-SHA1'))
    .option('--key-file <file>', 'PEM private key for RSA-* (PKCS#1 or PKCS#8, plain or encrypted)')
    .addOption(new Option('--key-passphrase <text>', 'passphrase of an encrypted --key-file').env('MTLS_GATEWAY_KEY_PASSPHRASE'))
    .addOption(new Option('--placement <where>', 'where the OAuth parameters go').choices([...PLACEMENTS]).default('header'))
    .option('--realm <realm>', 'realm of the Authorization header')
    .option('--callback <url>', 'oauth_callback')
    .option('--verifier <verifier>', 'oauth_verifier')
    .option('--oauth-version [value]', 'include oauth_version (default value 1.0; any value is sent as given)')
    .option('--oauth-param <name=value>', 'an extension oauth_* parameter (repeatable)', collectOAuthParam)
    .option('--body-hash', 'include oauth_body_hash for non-form bodies')
    .option('--nonce <nonce>', 'fixed nonce (default: random)')
    .option('--timestamp <seconds>', 'fixed timestamp (default: now)')
    .option('--base-string <text>', 'sign this signature base string as given (prints only the signature)')
    .option('--json', 'print JSON')
    .action((o: SignFlags) => {
      checkFlags(o)
      const { bodyFile, oauthVersion, oauthParam, body, ...rest } = o
      const out = runSignCommand({
        ...rest,
        ...(bodyFile !== undefined ? { body: readBody(bodyFile) } : body !== undefined ? { body } : {}),
        ...(oauthVersion === true ? { oauthVersion: '1.0' } : typeof oauthVersion === 'string' ? { oauthVersion } : {}),
        ...(oauthParam !== undefined ? { oauthParams: oauthParam } : {}),
      })
      process.stdout.write(out + '\n')
    })
}
