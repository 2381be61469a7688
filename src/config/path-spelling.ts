/**
 * One path, many spellings: RFC 3986 §6.2.2 makes `/~team` and `/%7Eteam` (and `%7e`, and `v%31`
 * for `v1`) the same path, since a percent-encoded unreserved character is that character and the
 * hex digits' case means nothing. A backend may spell the endpoint's base path otherwise than the
 * endpoint's URL does, and a caller may spell a `pathPrefix` otherwise than the configuration:
 * forward-proxy endpoint matching, the base-path checks (proxy/upstream-target.ts), and route
 * mode's Location and Set-Cookie Path mappings compare paths through this one normalisation.
 * `%2F` is never `/`.
 */

/** An unreserved character (RFC 3986 §2.3): its percent-encoded form is the same URI (§6.2.2.2). */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/

/**
 * A path (or segment) as RFC 3986 §6.2.2 compares it: unreserved characters decoded, other
 * triplets' hex upper-case. It never makes or removes a `/`, so segments keep their count.
 */
export function normalSpelling(path: string): string {
  if (!path.includes('%')) return path
  return path.replace(/%[0-9A-Fa-f]{2}/g, (t) => {
    const c = String.fromCharCode(Number.parseInt(t.slice(1), 16))
    return UNRESERVED.test(c) ? c : t.toUpperCase()
  })
}

/**
 * How many characters of `path` its leading segments take when they are `prefix`'s segments, spelled
 * alike or in an equivalent percent-encoding (`/~team` and `/%7Eteam`, `%2f` and `%2F`); -1 when they
 * are not.
 */
export function spelledPrefix(path: string, prefix: string): number {
  if (path === prefix || path.startsWith(`${prefix}/`)) return prefix.length
  if (!path.includes('%') && !prefix.includes('%')) return -1
  const want = prefix.split('/')
  const have = path.split('/').slice(0, want.length)
  if (have.length < want.length || have.some((segment, i) => normalSpelling(segment) !== normalSpelling(want[i] as string))) return -1
  return have.join('/').length
}
