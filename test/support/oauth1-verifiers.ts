/**
 * Line-per-request OAuth 1.0a verifiers nobody here wrote: python3-oauthlib's endpoint code
 * (test/peers/oauthlib_verify.py) and PHP's classic OAuth.php reading with PHP's own urldecode
 * (test/peers/php_oauth1_verify.php; php-cli is one of scripts/install-peers.sh's peers; where it
 * is missing phpVerifier throws: a PHP check skipped in silence let those tests pass on oauthlib's alone).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** One verdict: `base` is the base string PHP built. */
export interface Verdict { ok: boolean; error?: string; base?: string }

/** `{uri, method, headers, body_hex, client_secret, token_secret?}` in, a verdict out; `{parse: text}` in, text's parameters as the verifier's language reads them out. */
export interface Verifier { ask(msg: object): Promise<Verdict>; parse(text: string): Promise<unknown>; close(): void }

const peer = (name: string): string => fileURLToPath(new URL(`../peers/${name}`, import.meta.url))

function startVerifier(command: string, args: string[]): Verifier {
  const child = spawn(command, args)
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async ask(msg) {
      child.stdin.write(`${JSON.stringify(msg)}\n`)
      return JSON.parse((await replies.next()).value as string) as Verdict
    },
    async parse(text) {
      child.stdin.write(`${JSON.stringify({ parse: text })}\n`)
      const reply = JSON.parse((await replies.next()).value as string) as { pairs?: unknown; parsed?: unknown }
      return reply.pairs ?? reply.parsed
    },
    close: () => child.stdin.end(),
  }
}

/** python3-oauthlib, HMAC-SHA1; parse is urllib's parse_qsl (pairs in order, blanks kept). */
export function oauthlibVerifier(): Verifier {
  return startVerifier('/usr/bin/python3', [peer('oauthlib_verify.py')])
}

/** PHP, HMAC-SHA1; parse is parse_str (what $_GET and $_POST hold). */
export function phpVerifier(): Verifier {
  const php = ['/usr/bin/php', '/usr/local/bin/php'].find((p) => existsSync(p))
  if (php === undefined) throw new Error('php-cli is not installed (/usr/bin/php, /usr/local/bin/php): run scripts/install-peers.sh')
  return startVerifier(php, ['-n', peer('php_oauth1_verify.php')])
}
