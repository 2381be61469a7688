/**
 * Line-per-request OAuth 1.0a verifiers nobody here wrote: python3-oauthlib's endpoint code
 * (test/peers/oauthlib_verify.py) and PHP's classic OAuth.php reading with PHP's own urldecode
 * (test/peers/php_oauth1_verify.php; php-cli is one of scripts/install-peers.sh's peers, and
 * where it is missing phpVerifier gives undefined).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** One verdict: `base` is the base string PHP built. */
export interface Verdict { ok: boolean; error?: string; base?: string }

/** `{uri, method, headers, body_hex, client_secret, token_secret?}` in, a verdict out. */
export interface Verifier { ask(msg: object): Promise<Verdict>; close(): void }

const peer = (name: string): string => fileURLToPath(new URL(`../peers/${name}`, import.meta.url))

function startVerifier(command: string, args: string[]): Verifier {
  const child = spawn(command, args)
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async ask(msg) {
      child.stdin.write(`${JSON.stringify(msg)}\n`)
      return JSON.parse((await replies.next()).value as string) as Verdict
    },
    close: () => child.stdin.end(),
  }
}

/** python3-oauthlib, HMAC-SHA1. */
export function oauthlibVerifier(): Verifier {
  return startVerifier('/usr/bin/python3', [peer('oauthlib_verify.py')])
}

/** PHP, HMAC-SHA1; undefined where php-cli is not installed. */
export function phpVerifier(): Verifier | undefined {
  const php = ['/usr/bin/php', '/usr/local/bin/php'].find((p) => existsSync(p))
  return php === undefined ? undefined : startVerifier(php, ['-n', peer('php_oauth1_verify.php')])
}
