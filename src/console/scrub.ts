/**
 * The last line of defence of every console reply: each secret value of the config
 * (consumer secrets, tokens, passphrases, seal keys, field values, the admin token) is
 * replaced by the mask in whatever encoding it reached the reply in: as written,
 * JSON-escaped, percent-encoded (a `${env:}` in an endpoint URL's path), XML-escaped, or
 * layers of these (the dance's redaction, which decodes instead of listing forms). The
 * views already leave secrets out; this catches a value that reaches a reply by another
 * road (a provider echoing it, a consumer key read from `${env:}`, a connection test's URL).
 * A reply is scrubbed string by string before it is serialised, so a mask never cuts
 * through JSON's own syntax.
 */
import { secretRedactor } from '../dance/index.js'
import { MASK } from './profiles.js'

/** Secrets shorter than this are not masked (they would mask ordinary words); the dance's own floor. */
export { MIN_SECRET_LENGTH } from '../dance/index.js'

/** `text` (a message) with every secret in `secrets` masked, in any encoding. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  return secretRedactor(secrets, MASK)(text)
}

/** `body` as JSON text, every string in it (object keys too) with every secret in `secrets` masked. */
export function scrubbedJson(body: unknown, secrets: Iterable<string>): string {
  const redact = secretRedactor(secrets, MASK)
  return JSON.stringify(body, (_key, value: unknown) => {
    if (typeof value === 'string') return redact(value)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
    const entries = Object.entries(value)
    return entries.some(([k]) => redact(k) !== k) ? Object.fromEntries(entries.map(([k, v]) => [redact(k), v])) : value
  })
}
