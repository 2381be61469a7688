/**
 * The last line of defence of every console JSON reply: each secret value of the config
 * (consumer secrets, tokens, passphrases, seal keys, field values, the admin token), as
 * it would appear inside JSON, is replaced by the mask. The views already leave secrets
 * out; this catches a value that reaches a reply by another road (a provider echoing it,
 * a consumer key read from `${env:}`).
 */
import { MASK } from './profiles.js'

/** Secrets shorter than this are not masked (they would mask ordinary words). */
export const MIN_SECRET_LENGTH = 4

/** `json` with every secret in `secrets` masked (longest first, so no part of one survives). */
export function scrubSecrets(json: string, secrets: Iterable<string>): string {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue
    forms.add(s)
    forms.add(JSON.stringify(s).slice(1, -1))
  }
  let out = json
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(MASK)
  return out
}
