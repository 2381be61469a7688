/**
 * The one comparison of a presented secret with the expected one (admin tokens, session and
 * CSRF MACs): digests first, because timingSafeEqual needs equal lengths and the length of
 * the secret must not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** True when two strings are equal, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}
