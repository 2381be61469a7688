/**
 * An oracle outside Node for oauth_body_hash: base64(digest(body)) computed by /usr/bin/python3's
 * hashlib, with the digest the test names (from the documented rule), not the one the
 * implementation or the test provider would pick.
 */
import { execFileSync } from 'node:child_process'

/** The digest the body-hash rule documents per signature method: SHA-256/512 where the method says so, else SHA-1. */
export const DOCUMENTED_BODY_HASH_DIGEST = {
  'HMAC-SHA1': 'sha1', 'HMAC-SHA256': 'sha256', 'HMAC-SHA512': 'sha512', 'RSA-SHA1': 'sha1', 'RSA-SHA256': 'sha256', PLAINTEXT: 'sha1',
} as const

const SCRIPT = 'import base64, hashlib, sys; sys.stdout.write(base64.b64encode(hashlib.new(sys.argv[1], sys.stdin.buffer.read()).digest()).decode())'

/** base64(hashlib.new(digest, body).digest()), by Python. */
export function pythonBodyHash(digest: 'sha1' | 'sha256' | 'sha512', body: string | Buffer): string {
  return execFileSync('/usr/bin/python3', ['-c', SCRIPT, digest], { input: body, encoding: 'utf8' })
}
