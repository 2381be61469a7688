/**
 * A compact JWS or JWE has one spelling: each part is base64url without padding, whitespace or
 * line breaks (RFC 7515 §2 and §7.1, RFC 7516 §7.1), and the unused low bits of its last character
 * are zero. jose decodes leniently (atob skips whitespace, takes `=`, ignores the unused bits), so
 * one signed assertion or one JWE had many accepted spellings: refused before any key is used.
 */

/** True when every "."-separated part of `compact` is canonical base64url. */
export function isCanonicalCompact(compact: string): boolean {
  // Node's decoder drops what base64url cannot hold; re-encoding gives the one canonical text.
  return compact.split('.').every((part) => Buffer.from(part, 'base64url').toString('base64url') === part)
}

/** The sentence a refusal ends with, naming the rule. */
export const CANONICAL_PARTS = 'each part must be unpadded base64url without whitespace'
