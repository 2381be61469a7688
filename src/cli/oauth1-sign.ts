/**
 * `mtls-gateway oauth1 sign`: prints the signature base string, the signature and the
 * Authorization header (or signed URL/body) for one request, like Postman's OAuth 1.0
 * helper, so integration engineers can compare with what a provider expects.
 */
import { Option, type Command } from 'commander'
import { PLACEMENTS, runSignCommand, SIGNATURE_METHODS, type SignCommandOptions } from '../oauth1/index.js'

/** Adds the `oauth1 sign` subcommand to `program`. */
export function addOAuth1Commands(program: Command): void {
  const oauth1 = program.command('oauth1').description('OAuth 1.0a helpers')
  oauth1
    .command('sign')
    .description('sign one request and print the base string, signature and Authorization header')
    .requiredOption('--url <url>', 'request URL (query included)')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('--body <text>', 'request body')
    .option('--content-type <type>', 'body content type (form bodies are signed as parameters)')
    .requiredOption('--consumer-key <key>', 'consumer key')
    .option('--consumer-secret <secret>', 'consumer secret (HMAC-*, PLAINTEXT)')
    .option('--token <token>', 'token')
    .option('--token-secret <secret>', 'token secret')
    .addOption(new Option('--signature-method <method>', 'signature method').choices([...SIGNATURE_METHODS]).default('HMAC-SHA1'))
    .option('--key-file <file>', 'PEM RSA private key for RSA-*')
    .addOption(new Option('--placement <where>', 'where the OAuth parameters go').choices([...PLACEMENTS]).default('header'))
    .option('--realm <realm>', 'realm of the Authorization header')
    .option('--callback <url>', 'oauth_callback')
    .option('--verifier <verifier>', 'oauth_verifier')
    .option('--oauth-version', 'include oauth_version=1.0')
    .option('--body-hash', 'include oauth_body_hash for non-form bodies')
    .option('--nonce <nonce>', 'fixed nonce (default: random)')
    .option('--timestamp <seconds>', 'fixed timestamp (default: now)')
    .action((o: Record<string, string | boolean | undefined>) => {
      const opts = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, string | boolean>
      const { oauthVersion, ...rest } = opts
      const input = { ...rest, ...(oauthVersion ? { includeVersion: true } : {}) } as unknown as SignCommandOptions
      process.stdout.write(runSignCommand(input))
    })
}
