/**
 * `endpoints[].pathPrefix`: the forward proxy matches a request's path against it in RFC 3986 normal
 * spelling (path-spelling.ts), and the last check before the dial compares it with the path a URL
 * parser writes (the one sent, as written). A
 * prefix the parser would write otherwise (`^`, a space, `"`, `<`, `>`, a backquote, `{`/`}` outside
 * a placeholder, non-ASCII, `\`, a dot segment) matched requests that the dial's check then stopped
 * with a 500. So it is refused at load, naming the spelling to write.
 */
import type { Report } from './normalize-util.js'
import { PLACEHOLDER } from './path-placeholders.js'

const PLACEHOLDERS = new RegExp(PLACEHOLDER, 'gi')

export function checkPathPrefix(prefix: string | undefined, report: Report): void {
  if (prefix === undefined) return
  // A placeholder stands for one segment a path field fills: a plain one in its place.
  const plain = prefix.replace(PLACEHOLDERS, 'x')
  const written = new URL(plain, 'http://gateway.invalid').pathname
  if (written === plain) return
  const shown = plain === prefix ? ` ("${written}")` : ''
  report(['pathPrefix'], `is not written as a URL carries it${shown}: requests are matched against it as written and sent with their path as a URL writes it, so it would match paths that cannot be sent; percent-encode characters such as ^ { } " < > \` and spaces and non-ASCII ones, and leave out "\\", "." and ".." segments`)
}
